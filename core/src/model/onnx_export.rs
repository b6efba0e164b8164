//! Writes a [`LinearModel`] as an ONNX graph of standard operators (opset 13), loadable by
//! tract and onnxruntime alike:
//!
//! ```text
//! indices:int64[N]  values:float[N]
//! Gather(W[V,C], indices) → [N,C]   (int8: Cast to float; values *= Gather(row_scale, indices))
//! Mul(·, Unsqueeze(values, 1)) → ReduceSum(axis 0) → Add(bias) = logits[C] → Softmax = probs[C]
//! ```
//!
//! Only the rows of the features present are gathered, so an int8 model stays int8 in memory.
//!
//! [`WeightFormat`] is part of the served manifests; the writer itself needs the `train`
//! feature (only kb-loader exports).

#[cfg(feature = "train")]
use crate::model::linear::LinearModel;
use serde::{Deserialize, Serialize};
#[cfg(feature = "train")]
use tract_onnx::pb::{
    self, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto::Dimension,
    tensor_shape_proto::dimension::Value as DimValue, type_proto,
};

/// ONNX operator set the graph declares.
#[cfg(feature = "train")]
pub const OPSET: i64 = 13;

/// How the weight matrix is stored in the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightFormat {
    /// The trained f32 weights as they are.
    F32,
    /// Symmetric int8 with one f32 scale per feature row: a quarter of the size.
    Int8,
}

/// Serialised ONNX bytes of `model`. Deterministic: same model → same bytes.
#[cfg(feature = "train")]
pub fn export(model: &LinearModel, format: WeightFormat, doc: &[(&str, &str)]) -> Vec<u8> {
    let c = model.n_classes as i64;
    let mut init = vec![
        tensor_f32("bias", &[c], &model.bias),
        tensor_i64("axis0", &[1], &[0]),
        tensor_i64("axis1", &[1], &[1]),
    ];
    let (weights, mut nodes) = gather_rows(model, format);
    init.extend(weights);
    nodes.extend(score_nodes());
    let model = ModelProto {
        ir_version: 7,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "tandem-kb-loader".into(),
        graph: Some(graph(nodes, init, c)),
        metadata_props: doc
            .iter()
            .map(|(k, v)| StringStringEntryProto {
                key: (*k).into(),
                value: (*v).into(),
            })
            .collect(),
        ..Default::default()
    };
    prost::Message::encode_to_vec(&model)
}

/// The weight initializers of `format`, and the nodes that put the present features' weight
/// rows in `rows` and what to weigh each row by, as a column, in `col`.
#[cfg(feature = "train")]
fn gather_rows(model: &LinearModel, format: WeightFormat) -> (Vec<TensorProto>, Vec<NodeProto>) {
    let (v, c) = (model.n_features as i64, model.n_classes as i64);
    match format {
        WeightFormat::F32 => (
            vec![tensor_f32("W", &[v, c], &model.weights)],
            vec![
                node(
                    "Gather",
                    &["W", "indices"],
                    "rows",
                    vec![attr_int("axis", 0)],
                ),
                node("Unsqueeze", &["values", "axis1"], "col", vec![]),
            ],
        ),
        WeightFormat::Int8 => {
            let (q, scales) = model.quantize_rows();
            let weights = vec![
                TensorProto {
                    name: "W_int8".into(),
                    dims: vec![v, c],
                    data_type: DataType::Int8 as i32,
                    raw_data: q.iter().map(|&x| x as u8).collect(),
                    ..Default::default()
                },
                tensor_f32("row_scale", &[v], &scales),
            ];
            // The row scale multiplies the value, not the row: N multiplications, not N × C.
            let nodes = vec![
                node(
                    "Gather",
                    &["W_int8", "indices"],
                    "rows_int8",
                    vec![attr_int("axis", 0)],
                ),
                node(
                    "Cast",
                    &["rows_int8"],
                    "rows",
                    vec![attr_int("to", DataType::Float as i64)],
                ),
                node(
                    "Gather",
                    &["row_scale", "indices"],
                    "scales",
                    vec![attr_int("axis", 0)],
                ),
                node("Mul", &["values", "scales"], "scaled", vec![]),
                node("Unsqueeze", &["scaled", "axis1"], "col", vec![]),
            ];
            (weights, nodes)
        }
    }
}

/// `rows` × `col` summed over the features, plus the bias: the logits, and their softmax.
#[cfg(feature = "train")]
fn score_nodes() -> [NodeProto; 4] {
    [
        node("Mul", &["rows", "col"], "contrib", vec![]),
        node(
            "ReduceSum",
            &["contrib", "axis0"],
            "summed",
            vec![attr_int("keepdims", 0)],
        ),
        node("Add", &["summed", "bias"], "logits", vec![]),
        node("Softmax", &["logits"], "probs", vec![attr_int("axis", -1)]),
    ]
}

/// The graph of `nodes`: sparse features (indices, values) in, `c` class scores out.
#[cfg(feature = "train")]
fn graph(nodes: Vec<NodeProto>, initializer: Vec<TensorProto>, c: i64) -> GraphProto {
    GraphProto {
        name: "tandem_linear".into(),
        node: nodes,
        initializer,
        input: vec![
            value_info("indices", DataType::Int64, vec![Dimension::sym("N")]),
            value_info("values", DataType::Float, vec![Dimension::sym("N")]),
        ],
        output: vec![
            value_info("probs", DataType::Float, vec![Dimension::fixed(c)]),
            value_info("logits", DataType::Float, vec![Dimension::fixed(c)]),
        ],
        ..Default::default()
    }
}

#[cfg(feature = "train")]
trait DimExt {
    fn sym(name: &str) -> Self;
    fn fixed(n: i64) -> Self;
}

#[cfg(feature = "train")]
impl DimExt for Dimension {
    fn sym(name: &str) -> Self {
        Dimension {
            value: Some(DimValue::DimParam(name.into())),
            ..Default::default()
        }
    }
    fn fixed(n: i64) -> Self {
        Dimension {
            value: Some(DimValue::DimValue(n)),
            ..Default::default()
        }
    }
}

#[cfg(feature = "train")]
fn value_info(name: &str, dt: DataType, dims: Vec<Dimension>) -> ValueInfoProto {
    let tensor = type_proto::Tensor {
        elem_type: dt as i32,
        shape: Some(TensorShapeProto { dim: dims }),
    };
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(tensor)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(feature = "train")]
fn node(op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        name: output.into(),
        op_type: op.into(),
        input: inputs.iter().map(|s| (*s).into()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

#[cfg(feature = "train")]
fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

#[cfg(feature = "train")]
fn tensor_f32(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        raw_data: data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

#[cfg(feature = "train")]
fn tensor_i64(name: &str, dims: &[i64], data: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Int64 as i32,
        raw_data: data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}
