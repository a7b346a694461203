//! `dataType` and the data of messages: text, blob or object.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use ws_proto::PreparedMessage;

/// How received messages are handed to `on_message` (4D: `dataType`).
///
/// * [`Text`](DataType::Text) (the default): text frames arrive as [`Data::Text`], binary frames
///   as [`Data::Blob`]: nothing is silently converted.
/// * [`Blob`](DataType::Blob): every message arrives as [`Data::Blob`].
/// * [`Object`](DataType::Object): every message is parsed as JSON into [`Data::Object`]; a
///   message that is not JSON is reported to `on_error` and the connection is closed with 1007.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DataType {
    /// 4D `"text"`.
    #[default]
    Text,
    /// 4D `"blob"`.
    Blob,
    /// 4D `"object"`.
    Object,
}

impl DataType {
    /// The 4D spelling: `"text"`, `"blob"` or `"object"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Text => "text",
            DataType::Blob => "blob",
            DataType::Object => "object",
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a `dataType` other than `"text"`, `"blob"` or `"object"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownDataType(pub String);

impl fmt::Display for UnknownDataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown dataType {:?}: expected \"text\", \"blob\" or \"object\"",
            self.0
        )
    }
}

impl std::error::Error for UnknownDataType {}

impl FromStr for DataType {
    type Err = UnknownDataType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(DataType::Text),
            "blob" => Ok(DataType::Blob),
            "object" => Ok(DataType::Object),
            other => Err(UnknownDataType(other.to_owned())),
        }
    }
}

/// The data of a message, received (4D: `event.data`) or to send (4D: `.send(message)`).
///
/// Sending: text goes out as a UTF-8 text frame, a blob as a binary frame, an object as JSON
/// text (like 4D's `JSON Stringify`). Anything convertible with `Into<Data>` can be sent:
/// `&str`, `String`, `&[u8]`, `Vec<u8>`, `Bytes` and `serde_json::Value`; any
/// `serde::Serialize` value goes through [`Data::object`].
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    /// Text (4D `Text`).
    Text(String),
    /// Bytes (4D `Blob`).
    Blob(Bytes),
    /// A JSON value (4D `Object`).
    Object(serde_json::Value),
}

impl Data {
    /// Serializes any value into [`Data::Object`].
    pub fn object<T: serde::Serialize + ?Sized>(value: &T) -> Result<Data, serde_json::Error> {
        serde_json::to_value(value).map(Data::Object)
    }

    /// The text, for [`Data::Text`].
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Data::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The bytes, for [`Data::Blob`].
    pub fn as_blob(&self) -> Option<&[u8]> {
        match self {
            Data::Blob(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// The JSON value, for [`Data::Object`].
    pub fn as_object(&self) -> Option<&serde_json::Value> {
        match self {
            Data::Object(value) => Some(value),
            _ => None,
        }
    }

    /// Encodes the message once, to send it on many connections (a broadcast).
    pub fn prepare(&self) -> PreparedMessage {
        match self {
            Data::Text(text) => PreparedMessage::text(text),
            Data::Blob(bytes) => PreparedMessage::binary(bytes),
            Data::Object(value) => PreparedMessage::text(&value.to_string()),
        }
    }

    /// Converts a received message according to `data_type`; `Err` holds the JSON error of an
    /// `object` message that is not JSON.
    pub(crate) fn received(
        data_type: DataType,
        event: ReceivedPayload,
    ) -> Result<Data, serde_json::Error> {
        match (data_type, event) {
            (DataType::Text, ReceivedPayload::Text(text)) => {
                Ok(Data::Text(text.as_str().to_owned()))
            }
            (DataType::Text | DataType::Blob, ReceivedPayload::Binary(bytes)) => {
                Ok(Data::Blob(bytes))
            }
            (DataType::Blob, ReceivedPayload::Text(text)) => Ok(Data::Blob(text.into_bytes())),
            (DataType::Object, ReceivedPayload::Text(text)) => {
                serde_json::from_str(&text).map(Data::Object)
            }
            (DataType::Object, ReceivedPayload::Binary(bytes)) => {
                serde_json::from_slice(&bytes).map(Data::Object)
            }
        }
    }
}

/// A received data message, before conversion.
pub(crate) enum ReceivedPayload {
    Text(ws_proto::Utf8Bytes),
    Binary(Bytes),
}

impl From<&str> for Data {
    fn from(text: &str) -> Self {
        Data::Text(text.to_owned())
    }
}

impl From<String> for Data {
    fn from(text: String) -> Self {
        Data::Text(text)
    }
}

impl From<&String> for Data {
    fn from(text: &String) -> Self {
        Data::Text(text.clone())
    }
}

impl From<&[u8]> for Data {
    fn from(bytes: &[u8]) -> Self {
        Data::Blob(Bytes::copy_from_slice(bytes))
    }
}

impl From<Vec<u8>> for Data {
    fn from(bytes: Vec<u8>) -> Self {
        Data::Blob(Bytes::from(bytes))
    }
}

impl From<Bytes> for Data {
    fn from(bytes: Bytes) -> Self {
        Data::Blob(bytes)
    }
}

impl From<serde_json::Value> for Data {
    fn from(value: serde_json::Value) -> Self {
        Data::Object(value)
    }
}

impl From<&serde_json::Value> for Data {
    fn from(value: &serde_json::Value) -> Self {
        Data::Object(value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &'static str) -> ReceivedPayload {
        ReceivedPayload::Text(ws_proto::Utf8Bytes::from_static(s))
    }

    fn binary(b: &'static [u8]) -> ReceivedPayload {
        ReceivedPayload::Binary(Bytes::from_static(b))
    }

    #[test]
    fn conversions_follow_the_data_type() {
        assert_eq!(
            Data::received(DataType::Text, text("hi")).unwrap(),
            Data::Text("hi".into())
        );
        assert_eq!(
            Data::received(DataType::Text, binary(b"\xff")).unwrap(),
            Data::Blob(Bytes::from_static(b"\xff"))
        );
        assert_eq!(
            Data::received(DataType::Blob, text("hi")).unwrap(),
            Data::Blob(Bytes::from_static(b"hi"))
        );
        assert_eq!(
            Data::received(DataType::Object, text("{\"a\":1}")).unwrap(),
            Data::Object(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            Data::received(DataType::Object, binary(b"[1]")).unwrap(),
            Data::Object(serde_json::json!([1]))
        );
        assert!(Data::received(DataType::Object, text("not json")).is_err());
    }

    #[test]
    fn data_type_names() {
        for t in [DataType::Text, DataType::Blob, DataType::Object] {
            assert_eq!(t.as_str().parse::<DataType>(), Ok(t));
        }
        assert!("json".parse::<DataType>().is_err());
    }

    #[test]
    fn objects_are_sent_as_json_text() {
        let prepared = Data::object(&serde_json::json!({"k": "v"}))
            .unwrap()
            .prepare();
        assert_eq!(prepared.kind(), ws_proto::DataKind::Text);
        assert_eq!(prepared.payload(), b"{\"k\":\"v\"}");
    }
}
