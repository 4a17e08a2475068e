//! Answers written as JSON while they resolve, for the HTTP transport.
//!
//! async-graphql builds every object of an answer as a map (allocated, each key hashed), walks
//! the tree again to serialise it and a third time to drop it: on a page of small objects, more
//! than the resolvers' own work. When a request carries [`WrittenAsJson`], the objects answered
//! by `plain` are written as JSON as soon as their fields resolve and handed up as
//! `Value::Binary`, which no output of the schema otherwise produces; [`response_json`] copies
//! them into the body as they are. The fields, their order, their errors and their paths are
//! the same either way: only the representation between resolver and body changes.
//!
//! Only the HTTP transport sets the marker: answers that are read in the process (receipts'
//! hashes) or serialised by async-graphql (subscriptions, GraphQL over WebSocket) are built as
//! maps.

use std::future::Future;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::Field;
use async_graphql::resolver_utils::EnumType;
use async_graphql::{
    BatchResponse, ContextBase, ContextSelectionSet, Name, Positioned, Response, Value,
};
use axum::body::Bytes;

use super::loaders::ReadAhead;

/// In a request's data: its answer is encoded by [`response_json`].
#[derive(Clone, Copy)]
pub struct WrittenAsJson;

/// Whether the request being resolved is answered by [`response_json`].
pub(crate) fn writes_json<T>(ctx: &ContextBase<'_, T>) -> bool {
    ctx.data_opt::<WrittenAsJson>().is_some()
}

/// An object's answer, field by field: a map, or JSON written as they come.
pub(crate) enum ObjectAnswer {
    Map(IndexMap<Name, Value>),
    Json(Vec<u8>),
}

/// Room for an object's JSON before the first field: a figure's four fields fit.
pub(crate) const OBJECT_BYTES: usize = 128;

impl ObjectAnswer {
    pub fn new(json: bool, fields: usize) -> Self {
        if json {
            Self::Json(Vec::with_capacity(OBJECT_BYTES))
        } else {
            Self::Map(IndexMap::with_capacity(fields))
        }
    }

    pub fn field(&mut self, key: &Name, value: Value) {
        match self {
            Self::Map(object) => {
                object.insert(key.clone(), value);
            }
            Self::Json(out) => {
                push_key(out, key);
                write_value(out, &value);
            }
        }
    }

    /// The field at `key` as `root` writes it itself ([`WrittenFields`]), when the answer is
    /// written as JSON and `root` writes that field; otherwise false, the answer unchanged.
    pub fn written_field<T: WrittenFields>(&mut self, root: &T, field: &Field) -> bool {
        let Self::Json(out) = self else {
            return false;
        };
        let before = out.len();
        push_key(out, &field.response_key().node);
        if root.write_field(field, out) {
            return true;
        }
        out.truncate(before);
        false
    }

    /// The object, or null when no field answered (as async-graphql answers it).
    pub fn finish(self) -> Value {
        match self {
            Self::Map(object) if object.is_empty() => Value::Null,
            Self::Map(object) => Value::Object(object),
            Self::Json(out) if out.is_empty() => Value::Null,
            Self::Json(mut out) => {
                out.push(b'}');
                Value::Binary(Bytes::from(out))
            }
        }
    }
}

/// The next key of an object being written on its own.
fn push_key(out: &mut Vec<u8>, key: &Name) {
    push_member_key(out, out.is_empty(), key);
}

/// A key of an object being written, after `{` for the first, else after `,`.
pub(crate) fn push_member_key(out: &mut Vec<u8>, first: bool, key: &Name) {
    out.push(if first { b'{' } else { b',' });
    // A response key is a GraphQL name (letters, digits, `_`): nothing to escape.
    out.push(b'"');
    out.extend_from_slice(key.as_str().as_bytes());
    out.extend_from_slice(b"\":");
}

/// Fields an object writes into a JSON answer itself, without a resolver: leaves that take no
/// argument, need no permission, cannot fail and read only the object, written exactly as their
/// resolver's value would be. A page writes one per field of every figure, and the resolver's
/// future, its `Value` and the value's string cost several times the writing. Every other field
/// (and every field of an answer built as maps) goes to the object's resolvers.
///
/// An object-valued field is written too when every field asked of it is (see
/// `plain::write_selected`): a page's edge writes its figure.
///
/// A list of objects may read their relations ahead, all at once ([`read_ahead`]), and then
/// write relation-valued fields too ([`write_field_ahead`]): a list of platforms with their
/// metrics and each metric's latest reading is written in one pass, after one query.
///
/// [`read_ahead`]: WrittenFields::read_ahead
/// [`write_field_ahead`]: WrittenFields::write_field_ahead
pub(crate) trait WrittenFields {
    /// Writes the JSON value of `field` and returns true, or returns false, having written
    /// nothing, for a field the resolvers answer.
    fn write_field(&self, _field: &Field, _out: &mut Vec<u8>) -> bool {
        false
    }

    /// Whether [`write_field_ahead`](WrittenFields::write_field_ahead) writes `field`, asked as
    /// it is: what a list checks before it reads relations ahead.
    fn writes(_field: &Field) -> bool
    where
        Self: Sized,
    {
        false
    }

    /// As [`write_field`](WrittenFields::write_field), with the relations read ahead for the
    /// object's list.
    fn write_field_ahead(&self, _ahead: &ReadAhead, field: &Field, out: &mut Vec<u8>) -> bool {
        self.write_field(field, out)
    }

    /// How every object of a list writes `field`, chosen once for the list (see
    /// `plain::Layout`): none for a field the objects leave to their resolvers. A writer that
    /// returns false has written nothing, and the list is answered as if it had none.
    fn field_writer<'f>(_field: &'f Field) -> Option<FieldWriter<'f, Self>>
    where
        Self: Sized + 'f,
    {
        None
    }

    /// The relations `fields` ask of `items`, read for all of them at once; none when the
    /// objects write none of them ahead.
    fn read_ahead<'a>(
        _ctx: &'a ContextSelectionSet<'a>,
        _items: &'a [Self],
        _fields: &'a [&'a Positioned<Field>],
    ) -> impl Future<Output = Option<ReadAhead>> + Send + 'a
    where
        Self: Sized + Sync,
    {
        std::future::ready(None)
    }
}

/// Writes one field of an object into its JSON answer, as `write_field` would; false, having
/// written nothing, for a value it leaves to the resolvers.
pub(crate) type FieldWriter<'f, T> = Box<dyn Fn(&T, &mut Vec<u8>) -> bool + 'f>;

/// A JSON string whose text `write` appends: text that needs no escaping (digits, instants,
/// enum names).
pub(crate) fn write_plain_string(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    out.push(b'"');
    write(out);
    out.push(b'"');
}

/// One of an object's texts as its resolver answers it, escaped as serde_json would; false,
/// having written nothing, for none.
pub(crate) fn write_text(out: &mut Vec<u8>, text: Option<&str>) -> bool {
    text.map(|text| write_string(out, text)).is_some()
}

/// The code or a name of a catalogue row (`code`, `nameVi`, `nameEn`), as their resolvers
/// answer them; false for any other field.
pub(crate) fn write_code_or_name(
    out: &mut Vec<u8>,
    field: &str,
    code: &str,
    name_vi: &str,
    name_en: &str,
) -> bool {
    let text = match field {
        "code" => Some(code),
        "nameVi" => Some(name_vi),
        "nameEn" => Some(name_en),
        _ => None,
    };
    write_text(out, text)
}

/// An enum's value as its scalar writes it: its GraphQL name, as a string; false, having written
/// nothing, for a value without one.
pub(crate) fn write_enum<T: EnumType>(out: &mut Vec<u8>, value: T) -> bool {
    let Some(item) = T::items().iter().find(|item| item.value == value) else {
        return false;
    };
    write_plain_string(out, |out| out.extend_from_slice(item.name.as_bytes()));
    true
}

/// A list's answer from its items' answers, written as JSON when they were.
pub(crate) fn list(json: bool, items: Vec<Value>) -> Value {
    if !json {
        return Value::List(items);
    }
    let mut out = Vec::with_capacity(items.len() * OBJECT_BYTES + 2);
    write_list(&mut out, &items);
    Value::Binary(Bytes::from(out))
}

/// A batch's body: as serde would write it from async-graphql's types, with the parts written
/// as JSON while resolving copied in as they are.
pub fn response_json(answer: &BatchResponse) -> Vec<u8> {
    let written = match answer {
        BatchResponse::Single(response) => written_len(&response.data),
        BatchResponse::Batch(responses) => responses.iter().map(|r| written_len(&r.data)).sum(),
    };
    let mut out = Vec::with_capacity(written + 1024);
    match answer {
        BatchResponse::Single(response) => write_response(&mut out, response),
        BatchResponse::Batch(responses) => {
            out.push(b'[');
            for (index, response) in responses.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_response(&mut out, response);
            }
            out.push(b']');
        }
    }
    out
}

/// The length of the parts of `value` written as JSON while resolving: most of a body, which is
/// then written without growing.
fn written_len(value: &Value) -> usize {
    match value {
        Value::Binary(json) => json.len(),
        Value::List(items) => items.iter().map(written_len).sum(),
        Value::Object(object) => object.values().map(written_len).sum(),
        _ => 0,
    }
}

/// Field by field as `Response`'s `Serialize` writes it: data, extensions if any, errors if any.
fn write_response(out: &mut Vec<u8>, response: &Response) {
    out.extend_from_slice(b"{\"data\":");
    write_value(out, &response.data);
    if !response.extensions.is_empty() {
        out.extend_from_slice(b",\"extensions\":{");
        for (index, (key, value)) in response.extensions.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            write_string(out, key);
            out.push(b':');
            write_value(out, value);
        }
        out.push(b'}');
    }
    if !response.errors.is_empty() {
        out.extend_from_slice(b",\"errors\":");
        write_serialized(out, &response.errors);
    }
    out.push(b'}');
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Binary(json) => out.extend_from_slice(json),
        Value::List(items) => write_list(out, items),
        Value::Object(object) => {
            out.push(b'{');
            for (index, (key, value)) in object.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_key(out, key);
                write_value(out, value);
            }
            out.push(b'}');
        }
        Value::String(text) => write_string(out, text),
        Value::Enum(name) => write_string(out, name.as_str()),
        leaf => write_serialized(out, leaf),
    }
}

fn write_list(out: &mut Vec<u8>, items: &[Value]) {
    out.push(b'[');
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_value(out, item);
    }
    out.push(b']');
}

fn write_key(out: &mut Vec<u8>, key: &Name) {
    write_string(out, key.as_str());
    out.push(b':');
}

/// A string as serde_json writes it: as it is, quoted, unless it holds a quote, a backslash or
/// a control character (names, identifiers, instants and decimals never do).
pub(crate) fn write_string(out: &mut Vec<u8>, text: &str) {
    if needs_escaping(text.as_bytes()) {
        return write_serialized(out, text);
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// Whether `bytes` hold a quote, a backslash or a control character: eight bytes at a time,
/// as every string of an answer is scanned.
fn needs_escaping(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH_BITS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Exact for a whole word: some byte is zero (or below `n`) iff a high bit is left.
    let has_zero_byte = |word: u64| word.wrapping_sub(ONES) & !word & HIGH_BITS != 0;
    let has_byte_below =
        |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGH_BITS != 0;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let word = u64::from_ne_bytes(word.try_into().unwrap_or_default());
        if has_byte_below(word, 0x20)
            || has_zero_byte(word ^ (ONES * u64::from(b'"')))
            || has_zero_byte(word ^ (ONES * u64::from(b'\\')))
        {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&byte| byte < 0x20 || byte == b'"' || byte == b'\\')
}

/// Leaves, keys and errors, escaped by serde_json as the rest of the answer would be.
fn write_serialized<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing into memory fails only for a map with keys that are not strings, which none of
    // these has: null keeps the body JSON should it ever.
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{PathSegment, Pos, ServerError};

    use super::*;

    fn sample() -> Response {
        let data = Value::from_json(serde_json::json!({
            "page": { "edges": [{ "node": { "id": "1", "value": "1200.5", "tag": "A\"b\\\u{1}",
                                             "text": "Cổng Dịch vụ công\u{7f}/\n\t" } }],
                      "total": 3, "odd\"key": 1, "empty": [], "nothing": null, "flag": true, "ratio": 0.25 },
        }))
        .unwrap();
        let mut error = ServerError::new("no such metric", Some(Pos { line: 1, column: 3 }));
        error.path = vec![PathSegment::Field("page".into()), PathSegment::Index(0)];
        let mut response = Response::new(data);
        response.errors.push(error);
        response
            .extensions
            .insert("receipt".to_owned(), Value::from("token"));
        response
    }

    #[test]
    fn strings_are_escaped_exactly_when_serde_would_escape_them() {
        let plain = |text: &str| serde_json::to_string(text).unwrap() == format!("\"{text}\"");
        for length in 0..20 {
            for at in 0..length {
                for byte in 0u8..=0x7f {
                    let mut text = vec![b'a'; length];
                    text[at] = byte;
                    let text = String::from_utf8(text).unwrap();
                    assert_eq!(needs_escaping(text.as_bytes()), !plain(&text), "{text:?}");
                }
            }
        }
        for text in [
            "Cổng Dịch vụ công",
            "2025-06-30T00:00:00+00:00",
            "ÿ€\u{2028}",
            "\u{7f}x",
        ] {
            assert_eq!(needs_escaping(text.as_bytes()), !plain(text), "{text:?}");
        }
    }

    #[test]
    fn an_answer_without_written_parts_is_written_as_serde_writes_it() {
        let single = BatchResponse::Single(sample());
        assert_eq!(
            String::from_utf8(response_json(&single)).unwrap(),
            serde_json::to_string(&single).unwrap()
        );
        let batch = BatchResponse::Batch(vec![sample(), Response::new(Value::Null)]);
        assert_eq!(
            String::from_utf8(response_json(&batch)).unwrap(),
            serde_json::to_string(&batch).unwrap()
        );
    }

    #[test]
    fn objects_and_lists_written_while_resolving_read_as_the_maps_they_replace() {
        let key = |text: &str| Name::new(text);
        let answer = |json| {
            let mut node = ObjectAnswer::new(json, 2);
            node.field(&key("id"), Value::from("7"));
            node.field(&key("qualifier"), Value::Enum(key("ABOUT")));
            let empty = ObjectAnswer::new(json, 1).finish();
            let items = list(json, vec![node.finish(), empty]);
            let mut page = ObjectAnswer::new(json, 1);
            page.field(&key("edges"), items);
            BatchResponse::Single(Response::new(page.finish()))
        };
        let written = String::from_utf8(response_json(&answer(true))).unwrap();
        assert!(
            matches!(&answer(true), BatchResponse::Single(r) if matches!(r.data, Value::Binary(_)))
        );
        assert_eq!(written, serde_json::to_string(&answer(false)).unwrap());
        assert_eq!(
            written,
            r#"{"data":{"edges":[{"id":"7","qualifier":"ABOUT"},null]}}"#
        );
    }
}
