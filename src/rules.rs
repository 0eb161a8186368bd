//! The policy rules' catalog: each rule's stable id, where it applies by
//! default, and the severity an environment gives it. Overlays change a
//! rule's severity, or turn it off, in their `policy:` section, always with
//! a reason. The checks themselves are in `policy`, after lowering; the
//! catalog comes before validation, which refuses unknown rule ids.

use std::collections::BTreeMap;

use crate::diag::{Code, Diagnostic, Severity};
use crate::input::{RuleSetting, RuleSeverity};

/// Where a rule applies unless an overlay says otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Environments named `prod` or `production`.
    Production,
    Everywhere,
}

macro_rules! rules {
    ($( $(#[$doc:meta])* $rule:ident = $id:literal, $scope:ident, $summary:literal; )+) => {
        /// A built-in policy rule.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Rule {
            $( $(#[$doc])* $rule, )+
        }

        impl Rule {
            /// Every rule, in the order the README lists them.
            pub const ALL: &'static [Rule] = &[$( Rule::$rule, )+];

            /// The rule's id, as overlays and diagnostics name it.
            pub fn id(self) -> &'static str {
                match self {
                    $( Rule::$rule => $id, )+
                }
            }

            pub fn scope(self) -> Scope {
                match self {
                    $( Rule::$rule => Scope::$scope, )+
                }
            }

            /// What the rule requires, in a few words.
            pub fn summary(self) -> &'static str {
                match self {
                    $( Rule::$rule => $summary, )+
                }
            }
        }
    };
}

rules! {
    MinReplicas = "prod-min-replicas", Production, "at least 2 replicas";
    DisruptionBudget = "prod-disruption-budget", Production, "a PodDisruptionBudget";
    ReadinessProbe = "prod-readiness-probe", Production,
        "a readiness probe on the main container of a service with ports";
    Resources = "prod-resources", Production,
        "CPU and memory requests and a memory limit on every container";
    ImagePinned = "prod-image-pinned", Production,
        "images pinned by digest or an immutable version tag";
    NoFaultInjection = "prod-no-fault-injection", Production, "no fault injection";
    NoPrivileged = "no-privileged", Everywhere, "no privileged containers";
    NoHostNetwork = "no-host-network", Everywhere, "no host network";
    NoSecretData = "no-secret-data", Everywhere, "no Secret objects with data";
}

impl Rule {
    /// The rule with this id, if there is one.
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|rule| rule.id() == id)
    }

    /// The code of the rule's findings: its id.
    pub fn code(self) -> Code {
        Code::rule(self.id())
    }

    /// Every rule id, for messages and did-you-mean.
    pub fn ids() -> impl Iterator<Item = &'static str> {
        Rule::ALL.iter().map(|rule| rule.id())
    }
}

/// The severity of every rule in one environment, defaults and overlay applied.
#[derive(Debug, Clone)]
pub struct Settings {
    severities: BTreeMap<Rule, RuleSeverity>,
}

impl Settings {
    /// Defaults by scope, then the overlay's `policy:` settings. Unknown ids
    /// are refused by validation before this runs.
    pub fn new(production: bool, overrides: &BTreeMap<String, RuleSetting>) -> Settings {
        let severities = Rule::ALL
            .iter()
            .map(|&rule| {
                let default = match (rule.scope(), production) {
                    (Scope::Everywhere, _) | (Scope::Production, true) => RuleSeverity::Error,
                    (Scope::Production, false) => RuleSeverity::Off,
                };
                let set = overrides.get(rule.id()).map(|s| s.severity);
                (rule, set.unwrap_or(default))
            })
            .collect();
        Settings { severities }
    }

    pub fn severity(&self, rule: Rule) -> RuleSeverity {
        self.severities
            .get(&rule)
            .copied()
            .unwrap_or(RuleSeverity::Off)
    }

    /// A finding of `rule`, at its configured severity; none if it is off.
    pub fn finding(&self, rule: Rule, diag: Diagnostic) -> Option<Diagnostic> {
        debug_assert_eq!(diag.code, rule.code(), "a finding carries its rule's code");
        match self.severity(rule) {
            RuleSeverity::Error => Some(diag),
            RuleSeverity::Warning => Some(Diagnostic {
                severity: Severity::Warning,
                ..diag
            }),
            RuleSeverity::Off => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_follow_scope_and_overlay() {
        let prod = Settings::new(true, &BTreeMap::new());
        assert_eq!(prod.severity(Rule::MinReplicas), RuleSeverity::Error);
        let dev = Settings::new(false, &BTreeMap::new());
        assert_eq!(dev.severity(Rule::MinReplicas), RuleSeverity::Off);
        assert_eq!(dev.severity(Rule::NoHostNetwork), RuleSeverity::Error);
        let setting = RuleSetting {
            severity: RuleSeverity::Warning,
            reason: "single-AZ test cluster".into(),
        };
        let relaxed = Settings::new(
            true,
            &BTreeMap::from([("prod-min-replicas".to_owned(), setting)]),
        );
        assert_eq!(relaxed.severity(Rule::MinReplicas), RuleSeverity::Warning);
    }

    #[test]
    fn ids_are_unique_and_round_trip() {
        for &rule in Rule::ALL {
            assert_eq!(Rule::from_id(rule.id()), Some(rule));
        }
        assert_eq!(Rule::from_id("prod-min-replica"), None);
    }
}
