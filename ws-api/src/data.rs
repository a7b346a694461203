//! `dataType` and the data of messages: text, blob or object.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use ws_proto::{CloseCode, Config, PreparedMessage};

/// How received messages are handed to `on_message` (4D: `dataType`).
///
/// * [`Text`](DataType::Text) (the default): text frames arrive as [`Data::Text`], binary frames
///   as [`Data::Blob`]: nothing is silently converted.
/// * [`Blob`](DataType::Blob): every message arrives as [`Data::Blob`].
/// * [`Object`](DataType::Object): every message is parsed as JSON into [`Data::Object`],
///   within [`JsonLimits`]; a message that is not JSON, or nests deeper than
///   [`JsonLimits::max_depth`], is reported to `on_error` and the connection is closed with
///   1007; one larger than [`JsonLimits::max_size`], or whose value would take more than
///   [`JsonLimits::max_memory`], is reported to `on_error` and closes the connection with 1009.
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

/// Bounds on the messages of an `object` connection ([`DataType::Object`]), set with
/// [`ServerOptions::json_limits`](crate::ServerOptions::json_limits) and
/// [`ClientOptions::json_limits`](crate::ClientOptions::json_limits).
///
/// A JSON message past one of them is not delivered: `on_error` gets it (code
/// [`ErrorInfo::JSON_TOO_BIG`](crate::ErrorInfo::JSON_TOO_BIG) for size and memory,
/// [`ErrorInfo::INVALID_JSON`](crate::ErrorInfo::INVALID_JSON) for depth) and the connection is
/// closed with 1009 (size, memory) or 1007 (depth), like a message that is not JSON. Messages
/// of `text` and `blob` connections are not parsed and only [`Config::max_message_size`]
/// bounds them.
///
/// Why bounds of their own: a parsed [`serde_json::Value`] takes far more memory than its
/// JSON text. Every array element is a 32-byte `Value`, so `[0,0,…]` grows 16×; every
/// non-empty object is a B-tree with a node of about 640 bytes, so an array of one-entry
/// objects (`[{"":0},…]`) grows about 96×. At the connection's default
/// [`Config::max_message_size`] of 64 MiB that would be 1 to 6 GiB for one message. Under the
/// defaults here, parsing one message holds at most the message (1 MiB), the value (32 MiB,
/// [`max_memory`](Self::max_memory)) and serde_json's scratch copy of one string (less than the
/// message): about 34 MiB at worst, per connection parsing a message.
///
/// [`Config::max_message_size`]: ws_proto::Config::max_message_size
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct JsonLimits {
    /// Largest JSON message, in bytes. Default [`DEFAULT_MAX_SIZE`](Self::DEFAULT_MAX_SIZE),
    /// 1 MiB.
    ///
    /// On an `object` connection it also lowers the connection's
    /// [`Config::max_message_size`](ws_proto::Config::max_message_size), so a larger message
    /// is refused (1009) as soon as the frame header that announces it arrives, before any of
    /// it is buffered; the message is checked again before parsing.
    pub max_size: usize,
    /// Deepest nesting of arrays and objects: `1` is `[1]` or `{"a":1}`, `2` is `[[1]]`; a
    /// bare scalar is `0`. Default [`DEFAULT_MAX_DEPTH`](Self::DEFAULT_MAX_DEPTH), 64.
    /// serde_json refuses nesting past 127 whatever this says (its own recursion limit, also
    /// answered with 1007).
    pub max_depth: usize,
    /// Most heap memory the parsed value may take, in bytes, as estimated while parsing
    /// (32 bytes per array element or object entry, the B-tree nodes of objects, the heap
    /// blocks of strings, with the allocator's per-block overhead). Parsing stops as soon as
    /// the estimate would pass it, so this bounds the memory a message costs, not only what
    /// is delivered. Default [`DEFAULT_MAX_MEMORY`](Self::DEFAULT_MAX_MEMORY), 32 MiB.
    pub max_memory: usize,
}

impl JsonLimits {
    /// Default [`max_size`](Self::max_size): 1 MiB. JSON messages of WebSocket applications
    /// (chat lines, RPC calls, state updates) are rarely more than a few KiB; 1 MiB leaves
    /// room for large documents while bounding the work and memory of one parse. Send larger
    /// payloads as blobs, or raise it.
    pub const DEFAULT_MAX_SIZE: usize = 1 << 20;
    /// Default [`max_depth`](Self::max_depth): 64. Real documents rarely nest past 20 levels;
    /// each level costs parser stack, and connection threads on [`Runtime::Std`] run on
    /// 512 KiB stacks.
    ///
    /// [`Runtime::Std`]: crate::Runtime::Std
    pub const DEFAULT_MAX_DEPTH: usize = 64;
    /// Default [`max_memory`](Self::max_memory): 32 MiB, 32× the default `max_size`. It
    /// admits any message of the default size whose value takes up to 32 bytes of heap per
    /// byte of JSON: arrays of numbers or strings (about 16×) and typical arrays of small
    /// records (`{"name":"Alice","age":30}`, about 30×); it stops the shapes that cost more,
    /// such as arrays of tiny objects (up to about 96×), at 32 MiB.
    pub const DEFAULT_MAX_MEMORY: usize = 32 << 20;

    /// The defaults: 1 MiB, depth 64, 32 MiB.
    pub fn new() -> Self {
        Self::default()
    }

    /// No bound but serde_json's own depth limit (127) and the connection's
    /// [`Config::max_message_size`](ws_proto::Config::max_message_size): how `object`
    /// messages were parsed before these limits existed. Only for trusted peers.
    pub fn unbounded() -> Self {
        JsonLimits {
            max_size: usize::MAX,
            max_depth: usize::MAX,
            max_memory: usize::MAX,
        }
    }

    /// Sets [`max_size`](Self::max_size).
    #[must_use]
    pub fn max_size(mut self, bytes: usize) -> Self {
        self.max_size = bytes;
        self
    }

    /// Sets [`max_depth`](Self::max_depth).
    #[must_use]
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Sets [`max_memory`](Self::max_memory).
    #[must_use]
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.max_memory = bytes;
        self
    }

    /// The connection config of a connection with `data_type`: an `object` connection's
    /// [`Config::max_message_size`] is lowered to [`max_size`](Self::max_size), so the core
    /// refuses a larger message before buffering it.
    ///
    /// [`Config::max_message_size`]: ws_proto::Config::max_message_size
    pub(crate) fn connection_config(&self, data_type: DataType, mut config: Config) -> Config {
        if data_type == DataType::Object {
            config.max_message_size = config.max_message_size.min(self.max_size);
        }
        config
    }
}

impl Default for JsonLimits {
    fn default() -> Self {
        JsonLimits {
            max_size: Self::DEFAULT_MAX_SIZE,
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_memory: Self::DEFAULT_MAX_MEMORY,
        }
    }
}

/// Why an `object` message was not delivered.
#[derive(Debug)]
pub(crate) enum JsonRejection {
    /// Larger than [`JsonLimits::max_size`].
    TooBig { size: usize, max: usize },
    /// Nested deeper than [`JsonLimits::max_depth`].
    TooDeep { max: usize },
    /// Its value would take more than [`JsonLimits::max_memory`].
    TooMuchMemory { max: usize },
    /// Not JSON.
    Invalid(serde_json::Error),
}

impl JsonRejection {
    /// The close code the connection gets: 1009 for size and memory, 1007 otherwise.
    pub(crate) fn close_code(&self) -> CloseCode {
        match self {
            JsonRejection::TooBig { .. } | JsonRejection::TooMuchMemory { .. } => {
                CloseCode::MESSAGE_TOO_BIG
            }
            JsonRejection::TooDeep { .. } | JsonRejection::Invalid(_) => CloseCode::INVALID_PAYLOAD,
        }
    }

    /// The reason sent in the Close frame.
    pub(crate) fn close_reason(&self) -> &'static str {
        match self {
            JsonRejection::TooBig { .. } => "JSON message too big",
            JsonRejection::TooMuchMemory { .. } => "JSON value too big",
            JsonRejection::TooDeep { .. } => "JSON nested too deep",
            JsonRejection::Invalid(_) => "message is not JSON",
        }
    }
}

impl fmt::Display for JsonRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonRejection::TooBig { size, max } => write!(
                f,
                "JSON message of {size} bytes is larger than the limit of {max} bytes"
            ),
            JsonRejection::TooDeep { max } => {
                write!(f, "JSON message nests arrays and objects deeper than {max}")
            }
            JsonRejection::TooMuchMemory { max } => write!(
                f,
                "JSON message would take more than the limit of {max} bytes of memory once parsed"
            ),
            JsonRejection::Invalid(e) => write!(f, "message is not JSON: {e}"),
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

    /// Encodes the message once, to send it on many connections: a text frame for text and
    /// objects (as JSON), a binary frame for a blob. With permessage-deflate it is also
    /// compressed once for every connection that compresses each message afresh (the
    /// default). Send it with [`WebSocketConnection::send_prepared`] to the connections you
    /// choose; [`WebSocketServer::broadcast`] does the same for every connection.
    ///
    /// ```
    /// use ws_api::*;
    ///
    /// /// Tells the connections of one room, encoding the message once.
    /// fn tell_room(server: &WebSocketServer, room: &str, news: &str) -> usize {
    ///     let message = Data::from(news).prepare();
    ///     server
    ///         .connections()
    ///         .iter()
    ///         .filter(|conn| conn.request().query_value("room") == Some(room))
    ///         // A connection that is closing or not reading is skipped.
    ///         .filter(|conn| conn.send_prepared(&message).is_ok())
    ///         .count()
    /// }
    /// ```
    ///
    /// [`WebSocketConnection::send_prepared`]: crate::WebSocketConnection::send_prepared
    /// [`WebSocketServer::broadcast`]: crate::WebSocketServer::broadcast
    pub fn prepare(&self) -> PreparedMessage {
        match self {
            Data::Text(text) => PreparedMessage::text(text),
            Data::Blob(bytes) => PreparedMessage::binary(bytes),
            Data::Object(value) => PreparedMessage::text(&value.to_string()),
        }
    }

    /// Converts a received message according to `data_type`; an `object` message is parsed
    /// within `limits`, and `Err` says why it was not.
    pub(crate) fn received(
        data_type: DataType,
        event: ReceivedPayload,
        limits: &JsonLimits,
    ) -> Result<Data, JsonRejection> {
        match (data_type, event) {
            (DataType::Text, ReceivedPayload::Text(text)) => {
                Ok(Data::Text(text.as_str().to_owned()))
            }
            (DataType::Text | DataType::Blob, ReceivedPayload::Binary(bytes)) => {
                Ok(Data::Blob(bytes))
            }
            (DataType::Blob, ReceivedPayload::Text(text)) => Ok(Data::Blob(text.into_bytes())),
            (DataType::Object, ReceivedPayload::Text(text)) => {
                json::parse_str(text.as_str(), limits).map(Data::Object)
            }
            (DataType::Object, ReceivedPayload::Binary(bytes)) => {
                json::parse_slice(&bytes, limits).map(Data::Object)
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

/// Parsing within [`JsonLimits`]: the value is built by a seed that counts depth and charges
/// an estimate of each heap block to a budget *before* allocating it, so a message past a limit
/// stops the parse with at most the budget allocated.
mod json {
    use std::cell::Cell;
    use std::fmt;
    use std::mem::size_of;

    use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Value};

    use super::{JsonLimits, JsonRejection};

    /// One element of an array, or the value of an object entry.
    const VALUE: usize = size_of::<Value>();
    /// Entries of one B-tree node (`BTreeMap`'s `2 * B - 1`, B = 6).
    const NODE_ENTRIES: usize = 11;
    /// Fewest entries of a node other than the root (`B - 1`).
    const NODE_MIN_ENTRIES: usize = 5;
    /// A leaf node of `Map` (serde_json's `BTreeMap<String, Value>`): parent pointer, index,
    /// length, 11 keys and 11 values.
    const LEAF_NODE: usize = 16 + NODE_ENTRIES * (size_of::<String>() + VALUE);
    /// An internal node: a leaf and 12 child pointers.
    const INTERNAL_NODE: usize = LEAF_NODE + (NODE_ENTRIES + 1) * size_of::<usize>();

    /// The memory of a heap block of `n` bytes, as a typical allocator hands it out: an
    /// 8-byte header, 16-byte granularity, 32 bytes at least; nothing for an empty block.
    pub(super) const fn block(n: usize) -> usize {
        if n == 0 {
            0
        } else {
            let rounded = n.saturating_add(8 + 15) & !15;
            if rounded < 32 { 32 } else { rounded }
        }
    }

    /// The estimated node memory of an object with `entries` entries: one leaf up to 11, then
    /// at most one node per 5 entries (every node but the root holds 5 or more), each counted
    /// as an internal node.
    pub(super) const fn object_nodes(entries: usize) -> usize {
        if entries == 0 {
            0
        } else if entries <= NODE_ENTRIES {
            block(LEAF_NODE)
        } else {
            (1 + (entries - 1).div_ceil(NODE_MIN_ENTRIES)) * block(INTERNAL_NODE)
        }
    }

    #[derive(Clone, Copy)]
    enum Exceeded {
        Depth,
        Memory,
    }

    struct Budget {
        left: Cell<usize>,
        max_depth: usize,
        exceeded: Cell<Option<Exceeded>>,
    }

    impl Budget {
        fn charge<E: de::Error>(&self, bytes: usize) -> Result<(), E> {
            match self.left.get().checked_sub(bytes) {
                Some(left) => {
                    self.left.set(left);
                    Ok(())
                }
                None => {
                    self.exceeded.set(Some(Exceeded::Memory));
                    Err(E::custom("JSON value too big"))
                }
            }
        }

        fn enter<E: de::Error>(&self, depth: usize) -> Result<(), E> {
            if depth >= self.max_depth {
                self.exceeded.set(Some(Exceeded::Depth));
                return Err(E::custom("JSON nested too deep"));
            }
            Ok(())
        }

        fn string<E: de::Error>(&self, s: &str) -> Result<String, E> {
            self.charge(block(s.len()))?;
            Ok(s.to_owned())
        }
    }

    /// Deserializes one value at `depth` (the number of arrays and objects around it).
    #[derive(Clone, Copy)]
    struct ValueSeed<'b> {
        budget: &'b Budget,
        depth: usize,
    }

    impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
        type Value = Value;

        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for ValueSeed<'_> {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }

        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::from(v))
        }

        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::from(v))
        }

        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(Value::from(v))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
            self.budget.string(v).map(Value::String)
        }

        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_none<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let budget = self.budget;
            budget.enter(self.depth)?;
            let inner = ValueSeed {
                budget,
                depth: self.depth + 1,
            };
            let mut values: Vec<Value> = Vec::new();
            // Grown by hand (1, 2, 4, ...) so that each growth is charged before it happens.
            while let Some(value) = seq.next_element_seed(inner)? {
                if values.len() == values.capacity() {
                    let old = values.capacity();
                    let new = (old * 2).max(1);
                    budget.charge(block(new * VALUE).saturating_sub(block(old * VALUE)))?;
                    values.reserve_exact(new - old);
                }
                values.push(value);
            }
            Ok(Value::Array(values))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let budget = self.budget;
            budget.enter(self.depth)?;
            let inner = ValueSeed {
                budget,
                depth: self.depth + 1,
            };
            let mut object = Map::new();
            let mut entries = 0usize;
            while let Some(key) = map.next_key_seed(KeySeed(budget))? {
                let value = map.next_value_seed(inner)?;
                // Charged per entry inserted, duplicates included: an over-estimate.
                entries += 1;
                budget.charge(object_nodes(entries) - object_nodes(entries - 1))?;
                object.insert(key, value);
            }
            Ok(Value::Object(object))
        }
    }

    /// Deserializes an object key, charging its heap block before allocating it.
    struct KeySeed<'b>(&'b Budget);

    impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
        type Value = String;

        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for KeySeed<'_> {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object key")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            self.0.string(v)
        }
    }

    fn parse<'de, R: serde_json::de::Read<'de>>(
        mut de: serde_json::Deserializer<R>,
        size: usize,
        limits: &JsonLimits,
    ) -> Result<Value, JsonRejection> {
        if size > limits.max_size {
            return Err(JsonRejection::TooBig {
                size,
                max: limits.max_size,
            });
        }
        let budget = Budget {
            left: Cell::new(limits.max_memory),
            max_depth: limits.max_depth,
            exceeded: Cell::new(None),
        };
        let seed = ValueSeed {
            budget: &budget,
            depth: 0,
        };
        let parsed = seed.deserialize(&mut de).and_then(|value| {
            de.end()?;
            Ok(value)
        });
        parsed.map_err(|e| match budget.exceeded.get() {
            Some(Exceeded::Depth) => JsonRejection::TooDeep {
                max: limits.max_depth,
            },
            Some(Exceeded::Memory) => JsonRejection::TooMuchMemory {
                max: limits.max_memory,
            },
            None => JsonRejection::Invalid(e),
        })
    }

    /// Parses a text message (already valid UTF-8).
    pub(super) fn parse_str(text: &str, limits: &JsonLimits) -> Result<Value, JsonRejection> {
        parse(serde_json::Deserializer::from_str(text), text.len(), limits)
    }

    /// Parses a binary message.
    pub(super) fn parse_slice(bytes: &[u8], limits: &JsonLimits) -> Result<Value, JsonRejection> {
        parse(
            serde_json::Deserializer::from_slice(bytes),
            bytes.len(),
            limits,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    fn text(s: &'static str) -> ReceivedPayload {
        ReceivedPayload::Text(ws_proto::Utf8Bytes::from_static(s))
    }

    fn binary(b: &'static [u8]) -> ReceivedPayload {
        ReceivedPayload::Binary(Bytes::from_static(b))
    }

    fn received(data_type: DataType, payload: ReceivedPayload) -> Result<Data, JsonRejection> {
        Data::received(data_type, payload, &JsonLimits::default())
    }

    fn parse(json: &str, limits: JsonLimits) -> Result<serde_json::Value, JsonRejection> {
        json::parse_str(json, &limits)
    }

    /// The rejection, without printing a (large) parsed value otherwise.
    fn rejected(result: Result<serde_json::Value, JsonRejection>) -> JsonRejection {
        match result {
            Ok(_) => panic!("parsed, expected a rejection"),
            Err(e) => e,
        }
    }

    fn nested(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn conversions_follow_the_data_type() {
        assert_eq!(
            received(DataType::Text, text("hi")).unwrap(),
            Data::Text("hi".into())
        );
        assert_eq!(
            received(DataType::Text, binary(b"\xff")).unwrap(),
            Data::Blob(Bytes::from_static(b"\xff"))
        );
        assert_eq!(
            received(DataType::Blob, text("hi")).unwrap(),
            Data::Blob(Bytes::from_static(b"hi"))
        );
        assert_eq!(
            received(DataType::Object, text("{\"a\":1}")).unwrap(),
            Data::Object(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            received(DataType::Object, binary(b"[1]")).unwrap(),
            Data::Object(serde_json::json!([1]))
        );
        assert!(received(DataType::Object, text("not json")).is_err());
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

    #[test]
    fn objects_parse_like_serde_json() {
        for json in [
            "null",
            "true",
            "-12",
            "18446744073709551615",
            "1.5e300",
            "\"\\u00e9t\\u00e9 \\\"q\\\"\"",
            "[]",
            "{}",
            "[1,[2,[3,{}]],{\"a\":{\"b\":[null,false]}}]",
            "{\"k\":1,\"k\":2,\"\":\"\"}",
            "  [ 1 , 2 ]  ",
        ] {
            let expected: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(
                parse(json, JsonLimits::default()).unwrap(),
                expected,
                "{json}"
            );
            assert_eq!(
                json::parse_slice(json.as_bytes(), &JsonLimits::default()).unwrap(),
                expected
            );
        }
        for bad in ["", "[1,]", "{\"a\"}", "[1] x", "nul", "{1:2}", "\"\\x\""] {
            assert!(
                matches!(
                    parse(bad, JsonLimits::default()),
                    Err(JsonRejection::Invalid(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            json::parse_slice(b"\"\xff\"", &JsonLimits::default()),
            Err(JsonRejection::Invalid(_))
        ));
    }

    #[test]
    fn size_is_checked_before_parsing() {
        let limits = JsonLimits::new().max_size(8);
        assert!(parse("[1,2,3]", limits).is_ok());
        // Not even valid JSON: the size is what is reported.
        let err = rejected(parse("[1,2,3,4,", limits));
        assert!(
            matches!(err, JsonRejection::TooBig { size: 9, max: 8 }),
            "{err:?}"
        );
        assert_eq!(err.close_code(), CloseCode::MESSAGE_TOO_BIG);
    }

    #[test]
    fn depth_is_bounded() {
        let limits = JsonLimits::new().max_depth(3);
        assert!(parse(&nested(3), limits).is_ok());
        assert!(parse("[{\"a\":[1]}]", limits).is_ok());
        assert!(parse("7", JsonLimits::new().max_depth(0)).is_ok());
        for deep in [nested(4), "[{\"a\":[[1]]}]".to_owned(), nested(100_000)] {
            let err = rejected(parse(&deep, limits));
            assert!(matches!(err, JsonRejection::TooDeep { max: 3 }), "{err:?}");
            assert_eq!(err.close_code(), CloseCode::INVALID_PAYLOAD);
        }
        // The default admits 64 levels; serde_json's own limit stops the unbounded setting.
        assert!(parse(&nested(64), JsonLimits::default()).is_ok());
        assert!(matches!(
            parse(&nested(65), JsonLimits::default()),
            Err(JsonRejection::TooDeep { max: 64 })
        ));
        assert!(parse(&nested(127), JsonLimits::unbounded()).is_ok());
        assert!(matches!(
            parse(&nested(128), JsonLimits::unbounded()),
            Err(JsonRejection::Invalid(_))
        ));
    }

    #[test]
    fn the_deepest_default_document_parses_on_a_small_stack() {
        // Connection threads on the std runtime have 512 KiB; a quarter of it is plenty.
        let deep = format!("{}1{}", "{\"a\":[".repeat(32), "]}".repeat(32));
        let parsed = std::thread::Builder::new()
            .stack_size(128 << 10)
            .spawn(move || {
                parse(&nested(64), JsonLimits::default()).is_ok()
                    && parse(&deep, JsonLimits::default()).is_ok()
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(parsed);
    }

    /// `n` copies of `item`, comma-separated, in an array.
    fn array_of(item: &str, n: usize) -> String {
        let mut json = String::with_capacity(n * (item.len() + 1) + 2);
        json.push('[');
        for i in 0..n {
            if i > 0 {
                json.push(',');
            }
            json.push_str(item);
        }
        json.push(']');
        json
    }

    #[test]
    fn memory_is_bounded_while_parsing() {
        // 1,000 zeros: 1,024 slots of 32 bytes.
        let zeros = array_of("0", 1000);
        let slots = json::block(1024 * size_of::<serde_json::Value>());
        assert!(parse(&zeros, JsonLimits::new().max_memory(slots)).is_ok());
        let err = rejected(parse(&zeros, JsonLimits::new().max_memory(slots - 1)));
        assert!(
            matches!(err, JsonRejection::TooMuchMemory { .. }),
            "{err:?}"
        );
        assert_eq!(err.close_code(), CloseCode::MESSAGE_TOO_BIG);
        // Tiny objects cost a B-tree node each: 8 bytes of JSON, ~700 bytes of value.
        let tiny = array_of("{\"a\":0}", 1000);
        let err = rejected(parse(&tiny, JsonLimits::new().max_memory(50 * tiny.len())));
        assert!(
            matches!(err, JsonRejection::TooMuchMemory { .. }),
            "{err:?}"
        );
        assert!(parse(&tiny, JsonLimits::new().max_memory(1 << 20)).is_ok());
        // Strings and keys are charged their heap blocks.
        let long = format!("[\"{}\"]", "x".repeat(10_000));
        assert!(matches!(
            parse(&long, JsonLimits::new().max_memory(10_000)),
            Err(JsonRejection::TooMuchMemory { .. })
        ));
        let key = format!("{{\"{}\":0}}", "k".repeat(10_000));
        assert!(matches!(
            parse(&key, JsonLimits::new().max_memory(10_000)),
            Err(JsonRejection::TooMuchMemory { .. })
        ));
        assert!(parse(&key, JsonLimits::new().max_memory(20_000)).is_ok());
    }

    #[test]
    fn the_default_limits_admit_common_shapes_of_the_maximal_size() {
        let max = JsonLimits::DEFAULT_MAX_SIZE;
        // Numbers, strings and records filling 1 MiB, each about its largest.
        let record = "{\"name\":\"Alice\",\"age\":30}";
        for item in ["0", "\"a\"", record] {
            let json = array_of(item, (max - 2) / (item.len() + 1));
            assert!(json.len() <= max);
            assert!(parse(&json, JsonLimits::default()).is_ok(), "[{item},...]");
        }
        // Tiny objects cost ~88 bytes per byte of JSON: stopped at 32 MiB.
        let json = array_of("{\"a\":0}", (max - 2) / 8);
        assert!(matches!(
            parse(&json, JsonLimits::default()),
            Err(JsonRejection::TooMuchMemory { .. })
        ));
    }

    #[test]
    fn object_connections_get_the_json_size_as_message_limit() {
        let config = Config::default();
        let limits = JsonLimits::default();
        assert_eq!(
            limits
                .connection_config(DataType::Object, config.clone())
                .max_message_size,
            1 << 20
        );
        assert_eq!(
            limits
                .connection_config(DataType::Text, config.clone())
                .max_message_size,
            64 << 20
        );
        let small = config.with_max_message_size(1000);
        assert_eq!(
            limits
                .connection_config(DataType::Object, small)
                .max_message_size,
            1000
        );
    }
}
