//! The Open Inference Protocol (KServe / Triton "V2" REST) for komp
//! components, including the binary tensor data extension, because common
//! inference clients send binary tensors by default.
//!
//! ## How a component maps to tensors
//!
//! Inputs, either:
//! - one BYTES tensor (any name, shape `[N]`): each element is the UTF-8 JSON
//!   input of the component, or plain text for a component whose schema has
//!   exactly one required string field (the text is put into that field); or
//! - one tensor per input field, named like the field (BYTES → string,
//!   INT*/UINT* → integer, FP* → number, BOOL → boolean), shape `[N]`.
//!
//! `N` predictions are run, one per element. Outputs, `N` rows each:
//!
//! | output | datatype | shape | content |
//! |---|---|---|---|
//! | `label` | BYTES | `[N]` | the proposed label |
//! | `scores` | FP32 | `[N, L]` | calibrated probabilities, in the order of the manifest's labels |
//! | `requires_human_review` | BOOL | `[N]` | |
//! | `explanation` | BYTES | `[N]` | JSON array of `{"feature", "weight"}` |
//! | `details` | BYTES | `[N]` | JSON object |

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The names of the outputs every component offers.
pub const OUTPUTS: [&str; 5] = ["label", "scores", "requires_human_review", "explanation", "details"];

/// Largest JSON header of a binary request.
pub const MAX_HEADER_BYTES: usize = 1 << 20;

/// Most predictions (elements per input tensor) one request may carry.
pub const MAX_ROWS: usize = 64;

/// Most input tensors in one request. A component's input has a handful of
/// fields; every input's name is copied into every row, so this (with
/// [`MAX_NAME_BYTES`] and [`MAX_ROWS`]) bounds what decoding can build.
pub const MAX_INPUTS: usize = 32;

/// Longest input or output tensor name, in bytes.
pub const MAX_NAME_BYTES: usize = 128;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferRequest {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
    pub inputs: Vec<RequestInput>,
    #[serde(default)]
    pub outputs: Option<Vec<RequestOutput>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
    #[serde(default)]
    pub data: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestOutput {
    pub name: String,
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
}

#[derive(Debug, Serialize)]
pub struct InferResponse {
    pub model_name: String,
    pub model_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    pub outputs: Vec<ResponseOutput>,
}

#[derive(Debug, Serialize)]
pub struct ResponseOutput {
    pub name: String,
    pub shape: Vec<usize>,
    pub datatype: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// A request problem, answered with 400 and this message.
#[derive(Debug, PartialEq, Eq)]
pub struct BadRequest(pub String);

fn bad<T>(msg: impl Into<String>) -> Result<T, BadRequest> {
    Err(BadRequest(msg.into()))
}

/// One decoded input tensor: its elements as JSON values.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub values: Vec<Value>,
}

/// Splits a request body into the JSON header and the binary tail, per the
/// binary tensor data extension. `header_len` is `Inference-Header-Content-Length`.
pub fn split_body<'a>(body: &'a [u8], header_len: Option<&str>) -> Result<(&'a [u8], &'a [u8]), BadRequest> {
    match header_len {
        None => Ok((body, &[])),
        Some(h) => {
            let n: usize = h.trim().parse().map_err(|_| {
                BadRequest(format!("Inference-Header-Content-Length {h:?} is not a non-negative integer"))
            })?;
            if n > body.len() {
                return bad(format!(
                    "Inference-Header-Content-Length is {n} but the body has only {} bytes",
                    body.len()
                ));
            }
            if n > MAX_HEADER_BYTES {
                return bad(format!("the JSON header is {n} bytes; the limit is {MAX_HEADER_BYTES}"));
            }
            Ok(body.split_at(n))
        }
    }
}

fn element_count(shape: &[i64], name: &str) -> Result<usize, BadRequest> {
    let mut n: usize = 1;
    for d in shape {
        if *d < 0 {
            return bad(format!("input `{name}`: shape {shape:?} has a negative dimension"));
        }
        n = n
            .checked_mul(*d as usize)
            .ok_or_else(|| BadRequest(format!("input `{name}`: shape {shape:?} is too large")))?;
    }
    Ok(n)
}

fn binary_size(params: &Option<Map<String, Value>>) -> Result<Option<usize>, BadRequest> {
    match params.as_ref().and_then(|p| p.get("binary_data_size")) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(|n| Some(n as usize))
            .ok_or_else(|| BadRequest(format!("binary_data_size must be a non-negative integer, got {v}"))),
    }
}

/// Decodes every input into columns of JSON values, reading binary data from
/// `binary` in input order. Checks datatypes, shapes against element counts,
/// and that binary sizes add up exactly.
pub fn decode_inputs(req: &InferRequest, binary: &[u8]) -> Result<Vec<Column>, BadRequest> {
    check_limits(req)?;
    let mut offset = 0usize;
    let mut columns = Vec::with_capacity(req.inputs.len());
    for input in &req.inputs {
        let count = element_count(&input.shape, &input.name)?;
        let values = match binary_size(&input.parameters)? {
            Some(size) => {
                if input.data.is_some() {
                    return bad(format!("input `{}` has both `data` and binary_data_size", input.name));
                }
                let end = offset.checked_add(size).filter(|e| *e <= binary.len()).ok_or_else(|| {
                    BadRequest(format!(
                        "input `{}` says binary_data_size {size}, but only {} binary bytes remain",
                        input.name,
                        binary.len() - offset
                    ))
                })?;
                let v = decode_binary(&input.name, &input.datatype, &binary[offset..end], count)?;
                offset = end;
                v
            }
            None => {
                let data =
                    input.data.as_ref().ok_or_else(|| BadRequest(format!("input `{}` has no `data`", input.name)))?;
                decode_json(&input.name, &input.datatype, data, count)?
            }
        };
        columns.push(Column { name: input.name.clone(), values });
    }
    if offset != binary.len() {
        return bad(format!(
            "{} bytes of binary data follow the header but no input claims them",
            binary.len() - offset
        ));
    }
    Ok(columns)
}

/// A caller-chosen name as it appears in an error message: at most
/// [`MAX_NAME_BYTES`], cut at a character boundary.
fn shown(name: &str) -> &str {
    let mut end = name.len().min(MAX_NAME_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Refuses, before anything is decoded or copied, a request whose inputs
/// would make decoding build more than the limits allow. Without this a
/// 240 KB request with many long-named BOOL inputs made [`rows`] build
/// gigabytes (every name is copied into every row).
pub fn check_limits(req: &InferRequest) -> Result<(), BadRequest> {
    if req.inputs.is_empty() {
        return bad("`inputs` is empty");
    }
    if req.inputs.len() > MAX_INPUTS {
        return bad(format!(
            "the request has {} inputs; at most {MAX_INPUTS} are allowed (one per input field of the component)",
            req.inputs.len()
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, input) in req.inputs.iter().enumerate() {
        if input.name.len() > MAX_NAME_BYTES {
            return bad(format!(
                "input {i}: its name is {} bytes; names may be at most {MAX_NAME_BYTES} bytes",
                input.name.len()
            ));
        }
        if !seen.insert(input.name.as_str()) {
            return bad(format!("input `{}` appears more than once", input.name));
        }
        let count = element_count(&input.shape, &input.name)?;
        if count > MAX_ROWS {
            return bad(format!(
                "input `{}`: shape {:?} asks for {count} predictions; a request may carry at most {MAX_ROWS}",
                input.name, input.shape
            ));
        }
    }
    if let Some(outputs) = &req.outputs {
        if outputs.len() > OUTPUTS.len() {
            return bad(format!("the request asks for {} outputs; there are only {}", outputs.len(), OUTPUTS.len()));
        }
    }
    Ok(())
}

/// Flattens nested arrays into `out`, stopping (and returning false) as
/// soon as there are more than `limit` elements, so a lying shape cannot
/// make us copy a large `data` array first and count it afterwards.
fn flatten(v: &Value, out: &mut Vec<Value>, limit: usize) -> bool {
    match v {
        Value::Array(items) => items.iter().all(|i| flatten(i, out, limit)),
        other => {
            if out.len() >= limit {
                return false;
            }
            out.push(other.clone());
            true
        }
    }
}

fn decode_json(name: &str, datatype: &str, data: &Value, count: usize) -> Result<Vec<Value>, BadRequest> {
    let mut flat = Vec::with_capacity(count);
    if !flatten(data, &mut flat, count) {
        return bad(format!("input `{name}`: shape says {count} elements but `data` has more"));
    }
    if flat.len() != count {
        return bad(format!("input `{name}`: shape says {count} elements but `data` has {}", flat.len()));
    }
    for (i, v) in flat.iter().enumerate() {
        let ok = match datatype {
            "BYTES" => v.is_string(),
            "BOOL" => v.is_boolean(),
            "FP16" | "FP32" | "FP64" | "BF16" => v.is_number(),
            "INT8" | "INT16" | "INT32" | "INT64" => v.is_i64(),
            "UINT8" | "UINT16" | "UINT32" | "UINT64" => v.is_u64(),
            other => return bad(format!("input `{name}`: unknown datatype {other:?}")),
        };
        if !ok {
            return bad(format!("input `{name}`: element {i} ({v}) is not of datatype {datatype}"));
        }
    }
    Ok(flat)
}

fn decode_binary(name: &str, datatype: &str, bytes: &[u8], count: usize) -> Result<Vec<Value>, BadRequest> {
    let fixed = |size: usize| -> Result<std::slice::ChunksExact<'_, u8>, BadRequest> {
        // `count` comes from the request's shape: multiply without overflow.
        if size.checked_mul(count) != Some(bytes.len()) {
            return bad(format!(
                "input `{name}`: {count} elements of {datatype} need {} bytes, binary_data_size is {}",
                size as u128 * count as u128,
                bytes.len()
            ));
        }
        Ok(bytes.chunks_exact(size))
    };
    let values: Vec<Value> = match datatype {
        "BYTES" => {
            // Each element takes at least its 4-byte length prefix, so the
            // claimed count cannot make us reserve more than the body warrants.
            let mut out = Vec::with_capacity(count.min(bytes.len() / 4));
            let mut rest = bytes;
            for i in 0..count {
                if rest.len() < 4 {
                    return bad(format!("input `{name}`: element {i} has no 4-byte length prefix"));
                }
                let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
                rest = &rest[4..];
                if len > rest.len() {
                    return bad(format!("input `{name}`: element {i} claims {len} bytes but {} remain", rest.len()));
                }
                let s = std::str::from_utf8(&rest[..len])
                    .map_err(|e| BadRequest(format!("input `{name}`: element {i} is not UTF-8: {e}")))?;
                out.push(Value::String(s.to_string()));
                rest = &rest[len..];
            }
            if !rest.is_empty() {
                return bad(format!("input `{name}`: {} bytes left after {count} BYTES elements", rest.len()));
            }
            out
        }
        "BOOL" => fixed(1)?.map(|c| Value::Bool(c[0] != 0)).collect(),
        "INT32" => fixed(4)?.map(|c| Value::from(i32::from_le_bytes(c.try_into().unwrap()))).collect(),
        "INT64" => fixed(8)?.map(|c| Value::from(i64::from_le_bytes(c.try_into().unwrap()))).collect(),
        "UINT8" => fixed(1)?.map(|c| Value::from(c[0])).collect(),
        "UINT32" => fixed(4)?.map(|c| Value::from(u32::from_le_bytes(c.try_into().unwrap()))).collect(),
        "UINT64" => fixed(8)?.map(|c| Value::from(u64::from_le_bytes(c.try_into().unwrap()))).collect(),
        "FP32" => {
            fixed(4)?.map(|c| number(f32::from_le_bytes(c.try_into().unwrap()) as f64)).collect::<Result<_, _>>()?
        }
        "FP64" => fixed(8)?.map(|c| number(f64::from_le_bytes(c.try_into().unwrap()))).collect::<Result<_, _>>()?,
        other => return bad(format!("input `{name}`: datatype {other:?} is not supported in binary form")),
    };
    Ok(values)
}

fn number(f: f64) -> Result<Value, BadRequest> {
    serde_json::Number::from_f64(f).map(Value::Number).ok_or_else(|| BadRequest("a number is NaN or infinite".into()))
}

/// Turns decoded columns into one JSON input per row for the component.
/// `text_field` is the component's single required string field, if it has one.
pub fn rows(columns: &[Column], text_field: Option<&str>) -> Result<Vec<String>, BadRequest> {
    let n = columns[0].values.len();
    if columns.iter().any(|c| c.values.len() != n) {
        return bad("all inputs must have the same number of elements (one per prediction)");
    }
    if n == 0 {
        return bad("the inputs have no elements");
    }
    if columns.len() == 1 && columns[0].values.iter().all(Value::is_string) {
        return columns[0]
            .values
            .iter()
            .map(|v| {
                let s = v.as_str().expect("string");
                match serde_json::from_str::<Value>(s) {
                    Ok(Value::Object(_)) => Ok(s.to_string()),
                    _ => match text_field {
                        Some(f) => Ok(serde_json::json!({ f: s }).to_string()),
                        None => bad(format!(
                            "input `{}` is not a JSON object, and this component has no single text field to put plain text into; send the component's JSON input",
                            columns[0].name
                        )),
                    },
                }
            })
            .collect();
    }
    Ok((0..n)
        .map(|i| {
            let obj: Map<String, Value> = columns.iter().map(|c| (c.name.clone(), c.values[i].clone())).collect();
            Value::Object(obj).to_string()
        })
        .collect())
}

/// Which outputs to return and whether each is binary.
pub fn requested_outputs(req: &InferRequest) -> Result<Vec<(String, bool)>, BadRequest> {
    let all_binary = req
        .parameters
        .as_ref()
        .and_then(|p| p.get("binary_data_output"))
        .map(|v| v.as_bool().ok_or_else(|| BadRequest("binary_data_output must be a boolean".into())))
        .transpose()?
        .unwrap_or(false);
    match &req.outputs {
        None => Ok(OUTPUTS.iter().map(|o| (o.to_string(), all_binary)).collect()),
        Some(list) if list.len() > OUTPUTS.len() => {
            bad(format!("the request asks for {} outputs; there are only {}", list.len(), OUTPUTS.len()))
        }
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, o)| {
                if list[..i].iter().any(|earlier| earlier.name == o.name) {
                    return bad(format!("output `{}` is asked for more than once", o.name));
                }
                if !OUTPUTS.contains(&o.name.as_str()) {
                    return bad(format!("unknown output `{}`; outputs are: {}", shown(&o.name), OUTPUTS.join(", ")));
                }
                let binary = match o.parameters.as_ref().and_then(|p| p.get("binary_data")) {
                    Some(v) => v
                        .as_bool()
                        .ok_or_else(|| BadRequest(format!("output `{}`: binary_data must be a boolean", o.name)))?,
                    None => all_binary,
                };
                Ok((o.name.clone(), binary))
            })
            .collect(),
    }
}

/// One output tensor's values, before encoding.
pub enum OutputData {
    Bytes(Vec<String>),
    Fp32 { values: Vec<f32>, cols: usize },
    Bool(Vec<bool>),
}

/// Encodes outputs as JSON `data` or as binary, returning the response
/// outputs and the binary tail (empty if no output is binary).
pub fn encode_outputs(outputs: Vec<(String, bool, OutputData)>) -> (Vec<ResponseOutput>, Vec<u8>) {
    let mut tail = Vec::new();
    let mut out = Vec::with_capacity(outputs.len());
    for (name, binary, data) in outputs {
        let (datatype, shape) = match &data {
            OutputData::Bytes(v) => ("BYTES", vec![v.len()]),
            OutputData::Fp32 { values, cols } => ("FP32", vec![values.len() / (*cols).max(1), *cols]),
            OutputData::Bool(v) => ("BOOL", vec![v.len()]),
        };
        if binary {
            let start = tail.len();
            match &data {
                OutputData::Bytes(v) => v.iter().for_each(|s| {
                    tail.extend_from_slice(&(s.len() as u32).to_le_bytes());
                    tail.extend_from_slice(s.as_bytes());
                }),
                OutputData::Fp32 { values, .. } => values.iter().for_each(|f| tail.extend_from_slice(&f.to_le_bytes())),
                OutputData::Bool(v) => v.iter().for_each(|b| tail.push(*b as u8)),
            }
            let mut p = Map::new();
            p.insert("binary_data_size".into(), Value::from(tail.len() - start));
            out.push(ResponseOutput { name, shape, datatype, parameters: Some(p), data: None });
        } else {
            let data = match data {
                OutputData::Bytes(v) => Value::from(v),
                OutputData::Fp32 { values, .. } => {
                    Value::Array(values.iter().map(|f| number(*f as f64).unwrap_or(Value::Null)).collect())
                }
                OutputData::Bool(v) => Value::from(v),
            };
            out.push(ResponseOutput { name, shape, datatype, parameters: None, data: Some(data) });
        }
    }
    (out, tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: Value) -> InferRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn bytes_input_as_json_or_text() {
        let r = req(
            serde_json::json!({"inputs": [{"name": "input", "shape": [2], "datatype": "BYTES", "data": ["{\"text\":\"a\"}", "plain"]}]}),
        );
        let cols = decode_inputs(&r, &[]).unwrap();
        let rows = rows(&cols, Some("text")).unwrap();
        assert_eq!(rows, vec!["{\"text\":\"a\"}".to_string(), "{\"text\":\"plain\"}".to_string()]);
        assert!(super::rows(&cols, None).is_err());
    }

    #[test]
    fn binary_bytes_with_length_prefix() {
        let mut bin = Vec::new();
        for s in ["hej", "med dig"] {
            bin.extend_from_slice(&(s.len() as u32).to_le_bytes());
            bin.extend_from_slice(s.as_bytes());
        }
        let r = req(
            serde_json::json!({"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": bin.len()}}]}),
        );
        let cols = decode_inputs(&r, &bin).unwrap();
        assert_eq!(cols[0].values, vec![Value::from("hej"), Value::from("med dig")]);
        // A lying size is refused, not trusted.
        let r = req(
            serde_json::json!({"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": bin.len() + 5}}]}),
        );
        assert!(decode_inputs(&r, &bin).unwrap_err().0.contains("remain"));
        let mut lying = bin.clone();
        lying[0] = 200;
        let r = req(
            serde_json::json!({"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": lying.len()}}]}),
        );
        assert!(decode_inputs(&r, &lying).unwrap_err().0.contains("claims 200 bytes"));
    }

    #[test]
    fn huge_shapes_are_refused_without_allocating() {
        for (datatype, size) in [("BYTES", 4usize), ("FP32", 4), ("INT64", 8), ("BOOL", 1)] {
            for shape in [vec![i64::MAX], vec![1 << 62], vec![1 << 31, 1 << 31], vec![1 << 61]] {
                let r = req(
                    serde_json::json!({"inputs": [{"name": "x", "shape": shape, "datatype": datatype, "parameters": {"binary_data_size": size}}]}),
                );
                let e = decode_inputs(&r, &vec![0u8; size]).unwrap_err();
                assert!(e.0.contains("input `x`"), "{datatype} {shape:?}: {}", e.0);
            }
        }
        let r = req(
            serde_json::json!({"inputs": [{"name": "x", "shape": [i64::MAX, i64::MAX], "datatype": "BYTES", "data": ["a"]}]}),
        );
        assert!(decode_inputs(&r, &[]).unwrap_err().0.contains("too large"));
    }

    /// The request of the security review: many BOOL inputs with long
    /// names, each with many elements. It is refused by its declared shapes
    /// and names, before any element is decoded or any row is built.
    #[test]
    fn amplifying_requests_are_refused_before_decoding() {
        let long = "n".repeat(4096);
        let inputs: Vec<Value> = (0..40)
            .map(|i| serde_json::json!({"name": format!("{long}{i}"), "shape": [1000], "datatype": "BOOL", "parameters": {"binary_data_size": 1000}}))
            .collect();
        let e = decode_inputs(&req(serde_json::json!({ "inputs": inputs })), &vec![1u8; 40_000]).unwrap_err();
        assert!(e.0.contains("at most 32"), "{}", e.0);
        let one = |name: &str, n: usize| {
            req(
                serde_json::json!({"inputs": [{"name": name, "shape": [n], "datatype": "BOOL", "parameters": {"binary_data_size": n}}]}),
            )
        };
        let e = decode_inputs(&one(&long, 1), &[1]).unwrap_err();
        assert!(e.0.contains("names may be at most 128 bytes") && e.0.len() < 200, "{}", e.0);
        let e = decode_inputs(&one("ok", 65), &[1u8; 65]).unwrap_err();
        assert!(e.0.contains("at most 64"), "{}", e.0);
        assert_eq!(decode_inputs(&one("ok", 64), &[1u8; 64]).unwrap()[0].values.len(), 64);
        // JSON data longer than its shape is refused without copying it first.
        let r = req(
            serde_json::json!({"inputs": [{"name": "x", "shape": [2], "datatype": "BOOL", "data": vec![true; 10_000]}]}),
        );
        assert!(decode_inputs(&r, &[]).unwrap_err().0.contains("has more"));
        let dup = serde_json::json!({"inputs": [
            {"name": "x", "shape": [1], "datatype": "BOOL", "data": [true]},
            {"name": "x", "shape": [1], "datatype": "BOOL", "data": [true]}]});
        assert!(decode_inputs(&req(dup), &[]).unwrap_err().0.contains("more than once"));
        let outs = serde_json::json!({"inputs": [{"name": "x", "shape": [1], "datatype": "BOOL", "data": [true]}],
            "outputs": [{"name": "label"}, {"name": "label"}]});
        assert!(requested_outputs(&req(outs)).unwrap_err().0.contains("more than once"));
    }

    #[test]
    fn header_length_is_checked() {
        assert!(split_body(b"{}", Some("5")).is_err());
        assert!(split_body(b"{}", Some("x")).is_err());
        assert_eq!(split_body(b"{}ab", Some("2")).unwrap(), (&b"{}"[..], &b"ab"[..]));
    }

    #[test]
    fn shapes_must_match_data() {
        let r = req(serde_json::json!({"inputs": [{"name": "age", "shape": [2], "datatype": "INT64", "data": [1]}]}));
        assert!(decode_inputs(&r, &[]).unwrap_err().0.contains("2 elements"));
        let r = req(serde_json::json!({"inputs": [{"name": "age", "shape": [1], "datatype": "INT64", "data": ["x"]}]}));
        assert!(decode_inputs(&r, &[]).unwrap_err().0.contains("not of datatype INT64"));
    }

    #[test]
    fn outputs_encode_binary_and_json() {
        let (outs, tail) = encode_outputs(vec![
            ("label".into(), true, OutputData::Bytes(vec!["affald".into()])),
            ("scores".into(), false, OutputData::Fp32 { values: vec![0.25, 0.75], cols: 2 }),
        ]);
        assert_eq!(tail.len(), 4 + 6);
        assert_eq!(outs[0].parameters.as_ref().unwrap()["binary_data_size"], 10);
        assert_eq!(outs[1].shape, vec![1, 2]);
        assert_eq!(outs[1].data.as_ref().unwrap(), &serde_json::json!([0.25, 0.75]));
    }
}
