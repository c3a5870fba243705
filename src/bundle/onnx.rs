//! What livetag needs to know about an ONNX file, read straight from its protobuf without
//! ONNX Runtime: graph inputs and outputs (names, element types, dims), the opset, and the
//! initializers (parameter count, precision). Reading it ourselves lets a bundle be checked,
//! and a garbage or truncated file be named as such, before any runtime is involved.

use std::collections::{BTreeMap, HashSet};

/// Why bytes are not an ONNX model livetag can read, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnnxError {
    #[error("the file is empty")]
    Empty,
    #[error("no ONNX ir_version: this is not an ONNX model")]
    NoIrVersion,
    #[error("the model has no graph")]
    NoGraph,
    #[error("the graph has no outputs")]
    NoOutputs,
    #[error("subgraphs nested deeper than {MAX_SUBGRAPH_DEPTH} levels")]
    TooDeep,
    #[error("weight tensor `{name}`: parameter count overflows")]
    ParameterCountOverflow { name: String },
    #[error("weight tensor `{name}` has dims {dims:?}, whose product overflows")]
    DimsOverflow { name: String, dims: Vec<u64> },
    /// `data_location = EXTERNAL`.
    #[error("weight tensor `{name}` keeps its data in an external file; a livetag bundle holds the whole model in model.onnx")]
    ExternalData { name: String },
    #[error("the file ends in the middle of a number (truncated?)")]
    TruncatedNumber,
    #[error("malformed protobuf varint: this is not an ONNX model")]
    MalformedVarint,
    #[error("the file ends in the middle of a field (truncated?)")]
    TruncatedField,
    #[error("protobuf field number 0: this is not an ONNX model")]
    FieldNumberZero,
    #[error("field too long")]
    FieldTooLong,
    #[error("protobuf wire type {0} is not valid here: this is not an ONNX model")]
    WireType(u64),
}

/// ONNX `TensorProto.DataType` values livetag cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementType {
    Float32,
    Float16,
    BFloat16,
    Float64,
    Int64,
    Int32,
    Int8,
    UInt8,
    Bool,
    Other(i64),
}

impl ElementType {
    fn from_code(code: i64) -> Self {
        match code {
            1 => Self::Float32,
            2 => Self::UInt8,
            3 => Self::Int8,
            6 => Self::Int32,
            7 => Self::Int64,
            9 => Self::Bool,
            10 => Self::Float16,
            11 => Self::Float64,
            16 => Self::BFloat16,
            other => Self::Other(other),
        }
    }

    pub fn name(self) -> String {
        match self {
            Self::Float32 => "float32".into(),
            Self::Float16 => "float16".into(),
            Self::BFloat16 => "bfloat16".into(),
            Self::Float64 => "float64".into(),
            Self::Int64 => "int64".into(),
            Self::Int32 => "int32".into(),
            Self::Int8 => "int8".into(),
            Self::UInt8 => "uint8".into(),
            Self::Bool => "bool".into(),
            Self::Other(code) => format!("onnx type {code}"),
        }
    }
}

/// One dimension of a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    Fixed(i64),
    /// Named or unnamed dynamic dimension.
    Dynamic(String),
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Dynamic(name) if name.is_empty() => write!(f, "?"),
            Dim::Dynamic(name) => write!(f, "{name}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub element_type: ElementType,
    pub dims: Vec<Dim>,
}

impl TensorInfo {
    pub fn shape_string(&self) -> String {
        let dims: Vec<String> = self.dims.iter().map(Dim::to_string).collect();
        format!("[{}]", dims.join(", "))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OnnxInfo {
    pub ir_version: i64,
    /// Default-domain opset version.
    pub opset: Option<i64>,
    pub producer: String,
    /// Graph inputs that are not initializers, in graph order.
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
    pub parameter_count: u64,
    /// Parameter count per element type, for the "weight precision" line of a model card.
    pub parameters_by_type: BTreeMap<String, u64>,
    pub node_count: usize,
}

impl OnnxInfo {
    /// Parses a serialized `ModelProto`. The error says what is wrong in plain words.
    pub fn parse(bytes: &[u8]) -> Result<Self, OnnxError> {
        if bytes.is_empty() {
            return Err(OnnxError::Empty);
        }
        let mut info = OnnxInfo {
            ir_version: 0,
            opset: None,
            producer: String::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            parameter_count: 0,
            parameters_by_type: BTreeMap::new(),
            node_count: 0,
        };
        let mut graph = None;
        for field in Fields::new(bytes) {
            match field? {
                (1, Value::Varint(v)) => info.ir_version = v as i64,
                (2, Value::Bytes(b)) => info.producer = String::from_utf8_lossy(b).into_owned(),
                (7, Value::Bytes(b)) => graph = Some(b),
                (8, Value::Bytes(b)) => {
                    let mut domain = String::new();
                    let mut version = None;
                    for field in Fields::new(b) {
                        match field? {
                            (1, Value::Bytes(d)) => domain = String::from_utf8_lossy(d).into(),
                            (2, Value::Varint(v)) => version = Some(v as i64),
                            _ => {}
                        }
                    }
                    if domain.is_empty() || domain == "ai.onnx" {
                        info.opset = version;
                    }
                }
                _ => {}
            }
        }
        if info.ir_version <= 0 {
            return Err(OnnxError::NoIrVersion);
        }
        let graph = graph.ok_or(OnnxError::NoGraph)?;
        parse_graph(graph, &mut info)?;
        if info.outputs.is_empty() {
            return Err(OnnxError::NoOutputs);
        }
        Ok(info)
    }
}

fn parse_graph(graph: &[u8], info: &mut OnnxInfo) -> Result<(), OnnxError> {
    let mut initializer_names = HashSet::new();
    let mut inputs = Vec::new();
    for field in Fields::new(graph) {
        match field? {
            (1, Value::Bytes(node)) => parse_node(node, info, 0)?,
            (5, Value::Bytes(tensor)) => {
                initializer_names.insert(add_parameters(tensor, info)?);
            }
            (11, Value::Bytes(b)) => inputs.push(parse_value_info(b)?),
            (12, Value::Bytes(b)) => info.outputs.push(parse_value_info(b)?),
            _ => {}
        }
    }
    // Old exporters list initializers among the inputs; they are weights, not inputs.
    info.inputs = inputs
        .into_iter()
        .filter(|t| !initializer_names.contains(&t.name))
        .collect();
    Ok(())
}

/// If/Loop bodies nest graphs in nodes; real models go a few levels deep, and a hostile
/// file must not recurse until the stack runs out.
const MAX_SUBGRAPH_DEPTH: usize = 64;

/// Counts a weight tensor (an initializer, or a Constant node's value); returns its name.
fn add_parameters(tensor: &[u8], info: &mut OnnxInfo) -> Result<String, OnnxError> {
    let (name, element_type, count) = parse_initializer(tensor)?;
    let overflow = || OnnxError::ParameterCountOverflow { name: name.clone() };
    info.parameter_count = info
        .parameter_count
        .checked_add(count)
        .ok_or_else(overflow)?;
    let by_type = info
        .parameters_by_type
        .entry(element_type.name())
        .or_default();
    *by_type = by_type.checked_add(count).ok_or_else(overflow)?;
    Ok(name)
}

/// A node counts once; weights inside it count as parameters: a Constant's tensor
/// (torch exports keep weights there) and the initializers of subgraphs (If/Loop branches,
/// as in silero VAD, whose 16 and 8 kHz branches both count).
fn parse_node(node: &[u8], info: &mut OnnxInfo, depth: usize) -> Result<(), OnnxError> {
    if depth > MAX_SUBGRAPH_DEPTH {
        return Err(OnnxError::TooDeep);
    }
    info.node_count += 1;
    for field in Fields::new(node) {
        let (5, Value::Bytes(attribute)) = field? else {
            continue;
        };
        for field in Fields::new(attribute) {
            match field? {
                (5, Value::Bytes(tensor)) => {
                    add_parameters(tensor, info)?;
                }
                (6 | 11, Value::Bytes(graph)) => parse_subgraph(graph, info, depth + 1)?,
                _ => {}
            }
        }
    }
    Ok(())
}

fn parse_subgraph(graph: &[u8], info: &mut OnnxInfo, depth: usize) -> Result<(), OnnxError> {
    for field in Fields::new(graph) {
        match field? {
            (1, Value::Bytes(node)) => parse_node(node, info, depth)?,
            (5, Value::Bytes(tensor)) => {
                add_parameters(tensor, info)?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn parse_initializer(tensor: &[u8]) -> Result<(String, ElementType, u64), OnnxError> {
    let mut name = String::new();
    let mut dims = Vec::new();
    let mut element_type = ElementType::Other(0);
    for field in Fields::new(tensor) {
        match field? {
            (1, Value::Varint(d)) => dims.push(d),
            (1, Value::Bytes(packed)) => {
                let mut reader = Reader {
                    buf: packed,
                    pos: 0,
                };
                while !reader.done() {
                    dims.push(reader.varint()?);
                }
            }
            (2, Value::Varint(t)) => element_type = ElementType::from_code(t as i64),
            (8, Value::Bytes(b)) => name = String::from_utf8_lossy(b).into_owned(),
            // data_location = EXTERNAL: ONNX Runtime would open another file itself, past
            // every check a bundle's own files go through.
            (14, Value::Varint(1)) => return Err(OnnxError::ExternalData { name }),
            _ => {}
        }
    }
    // Dims come from the file: a hostile one must not overflow the count.
    let count = dims
        .iter()
        .try_fold(1u64, |count, &d| count.checked_mul(d))
        .ok_or_else(|| OnnxError::DimsOverflow {
            name: name.clone(),
            dims: dims.clone(),
        })?;
    Ok((name, element_type, count))
}

fn parse_value_info(bytes: &[u8]) -> Result<TensorInfo, OnnxError> {
    let mut name = String::new();
    let mut element_type = ElementType::Other(0);
    let mut dims = Vec::new();
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Bytes(b)) => name = String::from_utf8_lossy(b).into_owned(),
            (2, Value::Bytes(type_proto)) => {
                for field in Fields::new(type_proto) {
                    if let (1, Value::Bytes(tensor_type)) = field? {
                        for field in Fields::new(tensor_type) {
                            match field? {
                                (1, Value::Varint(t)) => {
                                    element_type = ElementType::from_code(t as i64)
                                }
                                (2, Value::Bytes(shape)) => dims = parse_shape(shape)?,
                                _ => {}
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(TensorInfo {
        name,
        element_type,
        dims,
    })
}

fn parse_shape(shape: &[u8]) -> Result<Vec<Dim>, OnnxError> {
    let mut dims = Vec::new();
    for field in Fields::new(shape) {
        if let (1, Value::Bytes(dim)) = field? {
            let mut value = Dim::Dynamic(String::new());
            for field in Fields::new(dim) {
                match field? {
                    (1, Value::Varint(v)) => value = Dim::Fixed(v as i64),
                    (2, Value::Bytes(p)) => {
                        value = Dim::Dynamic(String::from_utf8_lossy(p).into_owned())
                    }
                    _ => {}
                }
            }
            dims.push(value);
        }
    }
    Ok(dims)
}

/// A protobuf field value, by wire type.
enum Value<'a> {
    Varint(u64),
    Fixed,
    Bytes(&'a [u8]),
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64, OnnxError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.buf.get(self.pos).ok_or(OnnxError::TruncatedNumber)?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(OnnxError::MalformedVarint)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], OnnxError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.buf.len())
            .ok_or(OnnxError::TruncatedField)?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn field(&mut self) -> Result<(u32, Value<'a>), OnnxError> {
        let key = self.varint()?;
        let field_number = (key >> 3) as u32;
        if field_number == 0 {
            return Err(OnnxError::FieldNumberZero);
        }
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| OnnxError::FieldTooLong)?;
                Value::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Value::Fixed
            }
            other => return Err(OnnxError::WireType(other)),
        };
        Ok((field_number, value))
    }
}

/// Iterates the fields of one message; stops after the first error.
struct Fields<'a> {
    reader: Reader<'a>,
    failed: bool,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self {
            reader: Reader { buf, pos: 0 },
            failed: false,
        }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), OnnxError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.reader.done() {
            return None;
        }
        let item = self.reader.field();
        self.failed = item.is_err();
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::{OnnxError, OnnxInfo};

    /// A length-delimited protobuf field.
    fn bytes_field(number: u8, payload: &[u8]) -> Vec<u8> {
        assert!(payload.len() < 128);
        let mut out = vec![(number << 3) | 2, payload.len() as u8];
        out.extend_from_slice(payload);
        out
    }

    /// A model whose one initializer says its data is in an external file.
    #[test]
    fn external_weight_data_is_refused() {
        let mut tensor = vec![(1 << 3), 4]; // dims: [4]
        tensor.extend([(2 << 3), 1]); // data_type: float
        tensor.extend(bytes_field(8, b"w"));
        tensor.extend([(14 << 3), 1]); // data_location: EXTERNAL
        let model = |tensor: &[u8]| {
            let mut graph = bytes_field(5, tensor);
            graph.extend(bytes_field(12, &bytes_field(1, b"y"))); // an output named y
            let mut model = vec![(1 << 3), 8]; // ir_version 8
            model.extend(bytes_field(7, &graph));
            model
        };
        let error = OnnxInfo::parse(&model(&tensor)).unwrap_err();
        assert_eq!(error, OnnxError::ExternalData { name: "w".into() });
        assert!(
            error
                .to_string()
                .contains("weight tensor `w` keeps its data in an external file"),
            "{error}"
        );
        // The same tensor with its data inside parses.
        tensor.truncate(tensor.len() - 2);
        assert_eq!(OnnxInfo::parse(&model(&tensor)).unwrap().parameter_count, 4);
    }
}
