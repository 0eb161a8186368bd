//! How Argo Rollouts judges one measurement of a Prometheus metric, for
//! tests that check what a query's result leads to. Upstream is
//! argoproj/argo-rollouts @ 9f8d111 (2026-08-17):
//!
//! - `metricproviders/prometheus/prometheus.go`, `processResponse`: a
//!   vector's sample values become `result`, a `[]float64`; an empty vector
//!   is `[]`.
//! - `utils/evaluate/evaluate.go`, `EvaluateResult`: both conditions are
//!   evaluated, and an evaluation error in either is Error; without a
//!   failure condition, a false success condition is Failed; a true failure
//!   condition is Failed; with both set and neither true, Inconclusive.
//! - The conditions are expr-lang expressions: `&&` and `||` short-circuit,
//!   reading past the end of a list is a runtime error (so `result[0]` of
//!   `[]` is Error, `TestEvaluateResultErrorMessageWithEmptySlice`), and
//!   comparisons with NaN are false, as in Go.
//!
//! `Expr` reads exactly the part of expr-lang the conditions use: numbers,
//! `result`, `result[N]`, `len(..)`, `isNaN(..)`, `!`, comparisons, `&&`,
//! `||` and parentheses. Anything else panics: a condition that uses more
//! must teach this reader first, never be judged by a guess.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Successful,
    Failed,
    Error,
    Inconclusive,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The phase of one measurement whose query returned `result`.
pub fn evaluate(success: Option<&str>, failure: Option<&str>, result: &[f64]) -> Phase {
    let eval = |condition: Option<&str>| match condition {
        Some(text) => Expr::parse(text).eval(result).map(Some),
        None => Ok(None),
    };
    let (Ok(success), Ok(failure)) = (eval(success), eval(failure)) else {
        return Phase::Error;
    };
    let (success, failure) = match (success, failure) {
        (None, None) => return Phase::Successful,
        (Some(s), None) => (s, !s),
        (None, Some(f)) => (!f, f),
        (Some(s), Some(f)) => (s, f),
    };
    match (success, failure) {
        (_, true) => Phase::Failed,
        (false, false) => Phase::Inconclusive,
        (true, false) => Phase::Successful,
    }
}

#[derive(Debug)]
enum Expr {
    Number(f64),
    Result,
    Index(Box<Expr>, usize),
    Len(Box<Expr>),
    IsNaN(Box<Expr>),
    Not(Box<Expr>),
    Compare(Box<Expr>, &'static str, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

#[derive(Debug)]
enum Value<'a> {
    Bool(bool),
    Number(f64),
    List(&'a [f64]),
}

impl Expr {
    fn parse(text: &str) -> Expr {
        let tokens = tokens(text);
        let mut parser = Parser {
            tokens: &tokens,
            at: 0,
            text,
        };
        let expr = parser.or();
        if parser.at != tokens.len() {
            parser.unsupported();
        }
        expr
    }

    fn eval(&self, result: &[f64]) -> Result<bool, String> {
        match self.value(result)? {
            Value::Bool(b) => Ok(b),
            other => Err(format!("expected bool, but got {other:?}")),
        }
    }

    fn value<'a>(&self, result: &'a [f64]) -> Result<Value<'a>, String> {
        let number = |e: &Expr| match e.value(result)? {
            Value::Number(n) => Ok(n),
            other => Err(format!("expected a number, got {other:?}")),
        };
        let boolean = |e: &Expr| e.eval(result);
        Ok(match self {
            Expr::Number(n) => Value::Number(*n),
            Expr::Result => Value::List(result),
            Expr::Index(list, index) => match list.value(result)? {
                Value::List(items) => Value::Number(*items.get(*index).ok_or_else(|| {
                    format!(
                        "index out of range: {index} (array length is {})",
                        items.len()
                    )
                })?),
                other => return Err(format!("cannot index {other:?}")),
            },
            Expr::Len(list) => match list.value(result)? {
                Value::List(items) => Value::Number(items.len() as f64),
                other => return Err(format!("invalid argument for len (type {other:?})")),
            },
            Expr::IsNaN(e) => Value::Bool(number(e)?.is_nan()),
            Expr::Not(e) => Value::Bool(!boolean(e)?),
            Expr::Compare(left, op, right) => {
                let (l, r) = (number(left)?, number(right)?);
                Value::Bool(match *op {
                    "==" => l == r,
                    "!=" => l != r,
                    "<" => l < r,
                    "<=" => l <= r,
                    ">" => l > r,
                    ">=" => l >= r,
                    _ => unreachable!("the parser makes only these"),
                })
            }
            Expr::And(left, right) => Value::Bool(boolean(left)? && boolean(right)?),
            Expr::Or(left, right) => Value::Bool(boolean(left)? || boolean(right)?),
        })
    }
}

fn tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            let mut word = String::new();
            while let Some(&c) = chars
                .peek()
                .filter(|c| c.is_ascii_alphanumeric() || **c == '.' || **c == '_')
            {
                word.push(c);
                chars.next();
            }
            tokens.push(word);
        } else {
            chars.next();
            let pair = chars.peek().map(|next| format!("{c}{next}"));
            match pair.as_deref() {
                Some("&&" | "||" | "==" | "!=" | "<=" | ">=") => {
                    chars.next();
                    tokens.extend(pair);
                }
                _ => tokens.push(c.to_string()),
            }
        }
    }
    tokens
}

struct Parser<'t> {
    tokens: &'t [String],
    at: usize,
    text: &'t str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.at).map(String::as_str)
    }

    fn eat(&mut self, token: &str) -> bool {
        let found = self.peek() == Some(token);
        self.at += usize::from(found);
        found
    }

    fn expect(&mut self, token: &str) {
        if !self.eat(token) {
            self.unsupported();
        }
    }

    fn unsupported(&self) -> ! {
        panic!(
            "condition `{}` uses expr-lang beyond what tests/it/argo.rs reads (at token {:?})",
            self.text,
            self.peek()
        )
    }

    fn or(&mut self) -> Expr {
        let mut left = self.and();
        while self.eat("||") {
            left = Expr::Or(Box::new(left), Box::new(self.and()));
        }
        left
    }

    fn and(&mut self) -> Expr {
        let mut left = self.comparison();
        while self.eat("&&") {
            left = Expr::And(Box::new(left), Box::new(self.comparison()));
        }
        left
    }

    fn comparison(&mut self) -> Expr {
        let left = self.unary();
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            if self.eat(op) {
                return Expr::Compare(Box::new(left), op, Box::new(self.unary()));
            }
        }
        left
    }

    fn unary(&mut self) -> Expr {
        if self.eat("!") {
            return Expr::Not(Box::new(self.unary()));
        }
        let mut expr = self.primary();
        while self.eat("[") {
            let index = match self.peek().map(str::parse::<usize>) {
                Some(Ok(index)) => index,
                _ => self.unsupported(),
            };
            self.at += 1;
            self.expect("]");
            expr = Expr::Index(Box::new(expr), index);
        }
        expr
    }

    fn primary(&mut self) -> Expr {
        let Some(token) = self.peek().map(str::to_owned) else {
            self.unsupported()
        };
        self.at += 1;
        match token.as_str() {
            "(" => {
                let expr = self.or();
                self.expect(")");
                expr
            }
            "result" => Expr::Result,
            "len" | "isNaN" => {
                self.expect("(");
                let argument = Box::new(self.or());
                self.expect(")");
                if token == "len" {
                    Expr::Len(argument)
                } else {
                    Expr::IsNaN(argument)
                }
            }
            number => match number.parse::<f64>() {
                Ok(n) if number.starts_with(|c: char| c.is_ascii_digit()) => Expr::Number(n),
                _ => {
                    self.at -= 1;
                    self.unsupported()
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases argo-rollouts' own tests and docs give.
    #[test]
    fn reads_conditions_as_argo_rollouts_does() {
        // `TestEvaluateResultErrorMessageWithEmptySlice`: `result[0]` of `[]`.
        assert_eq!(evaluate(Some("result[0] >= 0.95"), None, &[]), Phase::Error);
        // docs/features/analysis.md, "Empty array".
        let passes_empty = "len(result) == 0 || result[0] >= 0.95";
        assert_eq!(evaluate(Some(passes_empty), None, &[]), Phase::Successful);
        let fails_empty = "len(result) > 0 && result[0] >= 0.95";
        assert_eq!(evaluate(Some(fails_empty), None, &[]), Phase::Failed);
        // "NaN and Infinity": the same NaN is successful, inconclusive, failed.
        let nan = [f64::NAN];
        let success = Some("isNaN(result[0]) || result[0] >= 0.95");
        assert_eq!(evaluate(success, None, &nan), Phase::Successful);
        let (success, failure) = (Some("result[0] >= 0.95"), Some("result[0] < 0.95"));
        assert_eq!(evaluate(success, failure, &nan), Phase::Inconclusive);
        assert_eq!(evaluate(success, None, &nan), Phase::Failed);
        // "Inconclusive Runs": both set, neither true.
        let (success, failure) = (Some("result[0] >= 0.90"), Some("result[0] < 0.50"));
        assert_eq!(evaluate(success, failure, &[0.7]), Phase::Inconclusive);
        assert_eq!(evaluate(success, failure, &[0.4]), Phase::Failed);
        assert_eq!(evaluate(success, failure, &[0.95]), Phase::Successful);
        // No conditions: successful unless there is an error (the code, not the docs).
        assert_eq!(evaluate(None, None, &[]), Phase::Successful);
    }

    #[test]
    fn reads_precedence_and_negation() {
        assert_eq!(
            evaluate(
                Some("!(len(result) == 0) && result[0] != 2.5"),
                None,
                &[1.0]
            ),
            Phase::Successful
        );
        assert_eq!(
            evaluate(Some("len(result) == 1 || result[5] > 0"), None, &[1.0]),
            Phase::Successful
        );
        assert_eq!(
            evaluate(Some("len(result) == 2 || result[5] > 0"), None, &[1.0]),
            Phase::Error
        );
    }

    #[test]
    fn refuses_what_it_does_not_read() {
        for condition in [
            "all(result, {# > 0.9})",
            "result[0] >= 0.9 and true",
            "result[-1] > 0",
        ] {
            let judged = std::panic::catch_unwind(|| evaluate(Some(condition), None, &[1.0]));
            assert!(judged.is_err(), "`{condition}` was judged {judged:?}");
        }
    }
}
