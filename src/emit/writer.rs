//! A serde `Serializer` that writes block YAML straight from typed
//! objects, with no intermediate value tree. A collection's opening is held
//! back until its first child, because an empty one is written inline
//! (`key: {}`, `- []`).

use std::fmt::Display;

use serde::ser::{self, Impossible, Serialize};

use super::{double_quoted, is_plain_safe, string};

#[derive(Debug)]
pub struct Error(String);

impl Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// Where the next value goes.
enum Slot {
    /// The whole document.
    Root,
    /// A key of the map on top of the stack comes next.
    Key,
    /// After `key:` in a map whose keys are at this column.
    Value { column: usize },
    /// An item of the sequence on top of the stack.
    Item,
}

/// Where a collection was opened, which decides how its first child's
/// line starts and how it is written if it stays empty.
#[derive(Clone, Copy)]
enum Opened {
    /// As the document: the first child starts the output.
    Root,
    /// After `key:`: the first child goes on a new, indented line.
    Value,
    /// As a sequence item: `- ` is written; the first child follows it.
    Item,
}

/// An open map or sequence.
struct Frame {
    /// Column of a map's keys, or of a sequence's dashes.
    column: usize,
    /// Children written so far.
    children: usize,
    opened: Opened,
    is_map: bool,
}

pub struct Writer {
    out: String,
    stack: Vec<Frame>,
    slot: Slot,
}

/// One object as a YAML document, ending in a newline.
pub fn to_yaml<T: Serialize + ?Sized>(object: &T) -> Result<String, Error> {
    let mut writer = Writer {
        out: String::with_capacity(1024),
        stack: Vec::with_capacity(16),
        slot: Slot::Root,
    };
    object.serialize(&mut writer)?;
    Ok(writer.out)
}

impl Writer {
    /// Start a child's line in the collection on top: nothing or a line
    /// break for the first child (see [`Opened`]), else the indentation.
    fn line_start(&mut self) {
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        frame.children += 1;
        match (frame.children, frame.opened) {
            (1, Opened::Root | Opened::Item) => {}
            (1, Opened::Value) => {
                self.out.push('\n');
                indent(&mut self.out, frame.column);
            }
            _ => indent(&mut self.out, frame.column),
        }
    }

    fn scalar(&mut self, text: &str, is_string: bool) {
        let slot = std::mem::replace(&mut self.slot, Slot::Item);
        let column = match slot {
            Slot::Root | Slot::Key => 0,
            Slot::Value { column } => {
                self.out.push(' ');
                column + 2
            }
            Slot::Item => {
                self.line_start();
                self.out.push_str("- ");
                self.stack.last().map_or(0, |f| f.column) + 2
            }
        };
        if is_string {
            string(&mut self.out, text, column);
        } else {
            self.out.push_str(text);
        }
        self.out.push('\n');
        self.restore_slot();
    }

    /// After a value: a key if a map is open, an item if a sequence is.
    fn restore_slot(&mut self) {
        self.slot = match self.stack.last() {
            Some(frame) if frame.is_map => Slot::Key,
            Some(_) => Slot::Item,
            None => Slot::Root,
        };
    }

    fn open(&mut self, is_map: bool) {
        let slot = std::mem::replace(&mut self.slot, Slot::Root);
        let (column, opened) = match slot {
            Slot::Root | Slot::Key => (0, Opened::Root),
            Slot::Value { column } => (column + 2, Opened::Value),
            Slot::Item => {
                self.line_start();
                self.out.push_str("- ");
                (self.stack.last().map_or(0, |f| f.column) + 2, Opened::Item)
            }
        };
        self.stack.push(Frame {
            column,
            children: 0,
            opened,
            is_map,
        });
        self.restore_slot();
    }

    /// An empty collection is written inline: `{}` or `[]`.
    fn close(&mut self) {
        if let Some(frame) = self.stack.pop() {
            if frame.children == 0 {
                if let Opened::Value = frame.opened {
                    self.out.push(' ');
                }
                self.out
                    .push_str(if frame.is_map { "{}\n" } else { "[]\n" });
            }
        }
        self.restore_slot();
    }

    fn key(&mut self, key: &str) {
        self.line_start();
        if is_plain_safe(key) {
            self.out.push_str(key);
        } else {
            double_quoted(&mut self.out, key);
        }
        self.out.push(':');
        let column = self.stack.last().map_or(0, |f| f.column);
        self.slot = Slot::Value { column };
    }
}

/// `column` spaces.
pub(super) fn indent(out: &mut String, column: usize) {
    const SPACES: &str = "                                                                ";
    let mut left = column;
    while left > 0 {
        let n = left.min(SPACES.len());
        out.push_str(&SPACES[..n]);
        left -= n;
    }
}

macro_rules! display_scalars {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method(self, v: $ty) -> Result<(), Error> {
            self.scalar(&v.to_string(), false);
            Ok(())
        })*
    };
}

impl ser::Serializer for &mut Writer {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), Error>;

    display_scalars!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64);

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(f64::from(v))
    }

    /// Floats as JSON writes them (`1.0`, `0.995`); NaN and infinities are not emitted.
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        let number = serde_json::Number::from_f64(v)
            .ok_or_else(|| Error(format!("cannot emit the number {v}")))?;
        self.scalar(&number.to_string(), false);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(&v.to_string())
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.scalar(v, true);
        Ok(())
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
        Err(Error("bytes are not emitted".into()))
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.scalar("null", false);
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    /// `{variant: value}`, as serde_json writes externally tagged enums.
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.open(true);
        self.key(variant);
        value.serialize(&mut *self)?;
        self.close();
        Ok(())
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self, Error> {
        self.open(false);
        Ok(self)
    }

    fn serialize_tuple(self, len: usize) -> Result<Self, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Self, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(Error("tuple variants are not emitted".into()))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self, Error> {
        self.open(true);
        Ok(self)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Error> {
        self.open(true);
        Ok(self)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(Error("struct variants are not emitted".into()))
    }
}

impl ser::SerializeSeq for &mut Writer {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.slot = Slot::Item;
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Error> {
        self.close();
        Ok(())
    }
}

impl ser::SerializeTuple for &mut Writer {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for &mut Writer {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeMap for &mut Writer {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        let text = key.serialize(KeyText)?;
        self.key(&text);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Error> {
        self.close();
        Ok(())
    }
}

impl ser::SerializeStruct for &mut Writer {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.key(key);
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Error> {
        self.close();
        Ok(())
    }
}

/// Map keys are strings (or numbers, written as text).
struct KeyText;

impl ser::Serializer for KeyText {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = Impossible<String, Error>;
    type SerializeTuple = Impossible<String, Error>;
    type SerializeTupleStruct = Impossible<String, Error>;
    type SerializeTupleVariant = Impossible<String, Error>;
    type SerializeMap = Impossible<String, Error>;
    type SerializeStruct = Impossible<String, Error>;
    type SerializeStructVariant = Impossible<String, Error>;

    fn serialize_str(self, v: &str) -> Result<String, Error> {
        Ok(v.to_owned())
    }
    fn serialize_i64(self, v: i64) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<String, Error> {
        value.serialize(self)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<String, Error> {
        Ok(variant.to_owned())
    }

    fn serialize_bool(self, _: bool) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_i8(self, v: i8) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_f32(self, _: f32) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_f64(self, _: f64) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_char(self, v: char) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_none(self) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<String, Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(not_a_key())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(not_a_key())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(not_a_key())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(not_a_key())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(not_a_key())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(not_a_key())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(not_a_key())
    }
}

fn not_a_key() -> Error {
    Error("map keys must be strings".into())
}
