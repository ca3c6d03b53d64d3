//! Reading a labelled sample: `.jsonl` or `.csv`.
//!
//! Every row is the component's input, the true label (column or field
//! `label`, one of the manifest's label ids), and optional extra columns to
//! group by (e.g. `district`). Two JSONL shapes are accepted, per line:
//!
//! - nested: `{"input": {...}, "label": "affald", "district": "nord"}`: the
//!   shape of `components/models/*.test.jsonl`; every key besides `input` and
//!   `label` is an extra column;
//! - flat: `{"subject": "...", "body": "...", "label": "affald"}`: keys that
//!   are fields of the input schema are the input, `label` the truth, the
//!   rest extra columns.
//!
//! CSV has a header row; columns named like input-schema fields are the
//! input (converted to the schema's type: integer, number, boolean), `label`
//! is the truth, the rest are extra columns. A semicolon-separated file (what
//! a Danish spreadsheet writes) is recognised from its header. An empty cell of
//! an optional field leaves the field out.
//!
//! The file is hashed as read (the report binds to its sha256) and capped at
//! [`MAX_SAMPLE_BYTES`], checked on its size before a byte is read.

use crate::stats::Estimate;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest sample file accepted: 256 MiB, about a million letters. A
/// validation needs a few thousand cases (`komp validate plan`); a larger file
/// is almost always the wrong file.
pub const MAX_SAMPLE_BYTES: u64 = 256 << 20;

/// What the component's input schema says about one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    String,
    Integer,
    Number,
    Boolean,
}

/// One field of the input schema.
#[derive(Debug, Clone, Serialize)]
pub struct InputField {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    pub required: bool,
    /// The schema lists its allowed values (a category, safe to group by).
    pub categorical: bool,
    /// Schema bounds of an integer or number field.
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
}

/// What a row must look like: the input fields and the allowed labels.
#[derive(Debug, Clone)]
pub struct SampleSpec {
    pub component: String,
    pub fields: Vec<InputField>,
    pub labels: Vec<String>,
}

impl SampleSpec {
    /// From the manifest's `input_schema` (top-level `properties` and
    /// `required`) and `labels`.
    pub fn from_manifest(m: &komp_artifact::Manifest) -> SampleSpec {
        let schema = &m.input_schema;
        let required: Vec<&str> = schema
            .get("required")
            .and_then(|r| r.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let mut fields = Vec::new();
        if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
            for (name, p) in props {
                let ty = match p.get("type").and_then(|t| t.as_str()) {
                    Some("integer") => FieldType::Integer,
                    Some("number") => FieldType::Number,
                    Some("boolean") => FieldType::Boolean,
                    _ => FieldType::String,
                };
                fields.push(InputField {
                    name: name.clone(),
                    ty,
                    required: required.contains(&name.as_str()),
                    categorical: p.get("enum").is_some() || ty == FieldType::Boolean,
                    minimum: p.get("minimum").and_then(|v| v.as_f64()),
                    maximum: p.get("maximum").and_then(|v| v.as_f64()),
                });
            }
        }
        // Required fields in the schema's order, then the others by name: the
        // same order in every message, whatever order the JSON map keeps.
        fields.sort_by_key(|f| {
            let pos = required.iter().position(|r| *r == f.name).unwrap_or(usize::MAX);
            (pos, f.name.clone())
        });
        SampleSpec { component: m.name.clone(), fields, labels: m.labels.iter().map(|l| l.id.clone()).collect() }
    }

    pub fn field(&self, name: &str) -> Option<&InputField> {
        self.fields.iter().find(|f| f.name == name)
    }

    fn required_names(&self) -> Vec<&str> {
        self.fields.iter().filter(|f| f.required).map(|f| f.name.as_str()).collect()
    }

    fn field_names(&self) -> String {
        self.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// One labelled case.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRow {
    /// Line of the file (1-based; for CSV, the line the record starts on).
    pub line: usize,
    /// The component input, as the component receives it.
    pub input: serde_json::Value,
    /// The true label id.
    pub truth: String,
    /// Extra columns (scalars as text), for grouping.
    pub extra: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleFormat {
    Jsonl,
    Csv,
}

/// A loaded sample and what binds the report to it.
#[derive(Debug, Clone)]
pub struct Sample {
    pub path: PathBuf,
    pub format: SampleFormat,
    /// sha256 of the file's bytes, hex.
    pub sha256: String,
    pub bytes: u64,
    pub rows: Vec<SampleRow>,
    /// Extra column names seen (sorted).
    pub extra_columns: Vec<String>,
}

/// Why a sample cannot be used. Each message names the file, the line and
/// the column, and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("cannot read sample {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(
        "sample {path} is {size} bytes; the limit is {limit} bytes (256 MiB). A validation needs a few thousand \
         labelled cases (see `komp validate plan`): draw a random subset of the file and validate that"
    )]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("sample {path}: cannot tell the format; name the file *.jsonl (one JSON object per line) or *.csv (with a header row)")]
    UnknownFormat { path: String },
    #[error(
        "sample {path} has no labelled rows{detail}; it needs one row per case with the input fields and a `label`"
    )]
    Empty { path: String, detail: String },
    #[error("{path} line {line}: not valid JSON ({reason}); each line must be one JSON object, e.g. {{\"input\": {{...}}, \"label\": \"...\"}}")]
    Json { path: String, line: usize, reason: String },
    #[error("{path} line {line}: expected a JSON object, found {found}")]
    NotObject { path: String, line: usize, found: String },
    #[error("{path} line {line}: invalid CSV ({reason}); every row needs as many cells as the header, quote cells that contain the separator")]
    Csv { path: String, line: usize, reason: String },
    #[error("{path}: the header has no `label` column (the true label of each row); columns found: {found}")]
    NoLabelColumn { path: String, found: String },
    #[error(
        "{path}: missing column(s) {missing}: `{component}` needs them in every row (its input fields are: {fields}); \
         columns found: {found}. Rename the columns to the input schema's field names"
    )]
    MissingColumns { path: String, component: String, missing: String, fields: String, found: String },
    #[error(
        "{path} line {line}: no `label` (the true label of the case); add `\"label\": \"...\"` with one of: {labels}"
    )]
    MissingLabel { path: String, line: usize, labels: String },
    #[error("{path} line {line}: `label` must be a text, found {found}")]
    LabelNotText { path: String, line: usize, found: String },
    #[error(
        "{path} line {line}: label {label:?} is not a label of `{component}`; use one of: {labels} \
         (map your own categories to these before validating)"
    )]
    UnknownLabel { path: String, line: usize, label: String, component: String, labels: String },
    #[error(
        "{path} line {line}: field `{field}` is missing; `{component}` requires it (its input fields are: {fields})"
    )]
    MissingField { path: String, line: usize, field: String, component: String, fields: String },
    #[error(
        "{path} line {line}: input field `{field}` is not in `{component}`'s input schema (its fields are: {fields})"
    )]
    UnknownField { path: String, line: usize, field: String, component: String, fields: String },
    #[error("{path} line {line} column `{column}`: {value:?} is not {expected}")]
    BadValue { path: String, line: usize, column: String, value: String, expected: String },
}

/// Reads and checks a sample file; the format comes from the extension.
pub fn load(path: &Path, spec: &SampleSpec) -> Result<Sample, SampleError> {
    let p = path.display().to_string();
    let format = match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("jsonl") | Some("ndjson") => SampleFormat::Jsonl,
        Some("csv") => SampleFormat::Csv,
        _ => return Err(SampleError::UnknownFormat { path: p }),
    };
    let io = |source| SampleError::Io { path: p.clone(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_SAMPLE_BYTES {
        return Err(SampleError::TooLarge { path: p, size, limit: MAX_SAMPLE_BYTES });
    }
    // Bounded read as well: the file may grow between the check and the read.
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_SAMPLE_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > MAX_SAMPLE_BYTES {
        return Err(SampleError::TooLarge { path: p, size: bytes.len() as u64, limit: MAX_SAMPLE_BYTES });
    }
    from_bytes(&bytes, path, format, spec)
}

/// Checks a sample already in memory (e.g. uploaded over HTTP); `name` is
/// what messages and the report call it. The caller bounds its size.
pub fn from_bytes(bytes: &[u8], name: &Path, format: SampleFormat, spec: &SampleSpec) -> Result<Sample, SampleError> {
    let p = name.display().to_string();
    let sha256 = hex::encode(Sha256::digest(bytes));
    let rows = match format {
        SampleFormat::Jsonl => parse_jsonl(bytes, &p, spec)?,
        SampleFormat::Csv => parse_csv(bytes, &p, spec)?,
    };
    if rows.is_empty() {
        let detail = if bytes.iter().all(|b| b.is_ascii_whitespace()) { " (the file is empty)" } else { "" };
        return Err(SampleError::Empty { path: p, detail: detail.into() });
    }
    let mut extra_columns: Vec<String> = rows.iter().flat_map(|r| r.extra.keys().cloned()).collect();
    extra_columns.sort();
    extra_columns.dedup();
    Ok(Sample { path: name.to_path_buf(), format, sha256, bytes: bytes.len() as u64, rows, extra_columns })
}

fn labels_list(spec: &SampleSpec) -> String {
    spec.labels.join(", ")
}

fn check_label(label: &str, line: usize, path: &str, spec: &SampleSpec) -> Result<String, SampleError> {
    let label = label.trim();
    if spec.labels.iter().any(|l| l == label) {
        Ok(label.to_string())
    } else {
        Err(SampleError::UnknownLabel {
            path: path.into(),
            line,
            label: label.into(),
            component: spec.component.clone(),
            labels: labels_list(spec),
        })
    }
}

fn kind_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "null".into(),
        serde_json::Value::Bool(_) => "a boolean".into(),
        serde_json::Value::Number(_) => "a number".into(),
        serde_json::Value::String(_) => "a text".into(),
        serde_json::Value::Array(_) => "an array".into(),
        serde_json::Value::Object(_) => "an object".into(),
    }
}

/// A scalar as group text; objects and arrays are not group columns.
fn scalar_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_jsonl(bytes: &[u8], path: &str, spec: &SampleSpec) -> Result<Vec<SampleRow>, SampleError> {
    let mut rows = Vec::new();
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let raw = if line == 1 { raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw) } else { raw };
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: serde_json::Value = serde_json::from_slice(raw).map_err(|e| SampleError::Json {
            path: path.into(),
            line,
            reason: e.to_string(),
        })?;
        let serde_json::Value::Object(mut obj) = value else {
            return Err(SampleError::NotObject { path: path.into(), line, found: kind_of(&value) });
        };
        let truth = match obj.remove("label") {
            None => return Err(SampleError::MissingLabel { path: path.into(), line, labels: labels_list(spec) }),
            Some(serde_json::Value::String(s)) => check_label(&s, line, path, spec)?,
            Some(other) => return Err(SampleError::LabelNotText { path: path.into(), line, found: kind_of(&other) }),
        };
        let (input, rest) = match obj.remove("input") {
            Some(serde_json::Value::Object(input)) => {
                if let Some(k) = input.keys().find(|k| spec.field(k).is_none()) {
                    return Err(SampleError::UnknownField {
                        path: path.into(),
                        line,
                        field: k.clone(),
                        component: spec.component.clone(),
                        fields: spec.field_names(),
                    });
                }
                (input, obj)
            }
            Some(other) => {
                return Err(SampleError::NotObject {
                    path: path.into(),
                    line,
                    found: format!("`input` as {}", kind_of(&other)),
                })
            }
            None => {
                let (input, rest): (serde_json::Map<_, _>, serde_json::Map<_, _>) =
                    obj.into_iter().partition(|(k, _)| spec.field(k).is_some());
                (input, rest)
            }
        };
        for f in spec.fields.iter().filter(|f| f.required) {
            if !input.contains_key(&f.name) {
                return Err(SampleError::MissingField {
                    path: path.into(),
                    line,
                    field: f.name.clone(),
                    component: spec.component.clone(),
                    fields: spec.field_names(),
                });
            }
        }
        let extra = rest.iter().filter_map(|(k, v)| scalar_text(v).map(|t| (k.clone(), t))).collect();
        rows.push(SampleRow { line, input: serde_json::Value::Object(input), truth, extra });
    }
    Ok(rows)
}

fn parse_csv(bytes: &[u8], path: &str, spec: &SampleSpec) -> Result<Vec<SampleRow>, SampleError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let count = |c: u8| first_line.iter().filter(|b| **b == c).count();
    let delimiter = if count(b';') > count(b',') { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).has_headers(true).from_reader(bytes);
    let csv_err = |e: csv::Error| {
        let line = e.position().map_or(0, |p| p.line() as usize);
        SampleError::Csv { path: path.into(), line, reason: e.to_string() }
    };
    let headers: Vec<String> = reader.headers().map_err(csv_err)?.iter().map(|h| h.trim().to_string()).collect();
    if headers.iter().all(String::is_empty) {
        return Err(SampleError::Empty { path: path.into(), detail: " (no header row)".into() });
    }
    let found = headers.join(", ");
    let Some(label_col) = headers.iter().position(|h| h == "label") else {
        return Err(SampleError::NoLabelColumn { path: path.into(), found });
    };
    let missing: Vec<&str> = spec.required_names().into_iter().filter(|r| !headers.iter().any(|h| h == r)).collect();
    if !missing.is_empty() {
        return Err(SampleError::MissingColumns {
            path: path.into(),
            component: spec.component.clone(),
            missing: missing.join(", "),
            fields: spec.field_names(),
            found,
        });
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_err)?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let truth = check_label(&record[label_col], line, path, spec)?;
        let mut input = serde_json::Map::new();
        let mut extra = BTreeMap::new();
        for (col, cell) in headers.iter().zip(record.iter()) {
            if col == "label" {
                continue;
            }
            let Some(field) = spec.field(col) else {
                if !cell.trim().is_empty() {
                    extra.insert(col.clone(), cell.trim().to_string());
                }
                continue;
            };
            let bad = |expected: &str| SampleError::BadValue {
                path: path.into(),
                line,
                column: col.clone(),
                value: cell.chars().take(60).collect(),
                expected: expected.into(),
            };
            let value = match field.ty {
                FieldType::String if cell.is_empty() && !field.required => continue,
                FieldType::String => serde_json::Value::String(cell.to_string()),
                _ if cell.trim().is_empty() && !field.required => continue,
                FieldType::Integer => cell.trim().parse::<i64>().map_err(|_| bad("a whole number"))?.into(),
                FieldType::Number => serde_json::Number::from_f64(
                    cell.trim().replace(',', ".").parse::<f64>().map_err(|_| bad("a number"))?,
                )
                .map(serde_json::Value::Number)
                .ok_or_else(|| bad("a finite number"))?,
                FieldType::Boolean => match cell.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" | "ja" | "yes" => true.into(),
                    "false" | "0" | "nej" | "no" => false.into(),
                    _ => return Err(bad("true or false (also accepted: 1/0, ja/nej, yes/no)")),
                },
            };
            input.insert(col.clone(), value);
        }
        rows.push(SampleRow { line, input: serde_json::Value::Object(input), truth, extra });
    }
    Ok(rows)
}

/// What the report says about the sample (never its content).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct SampleBinding {
    /// The file's name (without its directory).
    pub file: String,
    pub format: String,
    /// sha256 of the file's bytes: the report is about exactly this file.
    pub sha256: String,
    pub bytes: u64,
    /// Labelled rows read.
    pub rows: usize,
    pub extra_columns: Vec<String>,
    /// Share of each true label in the sample (prevalence), with intervals.
    #[serde(default)]
    pub prevalence: BTreeMap<String, Estimate>,
}

impl Sample {
    pub fn binding(&self) -> SampleBinding {
        SampleBinding {
            file: self.path.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default(),
            format: match self.format {
                SampleFormat::Jsonl => "jsonl".into(),
                SampleFormat::Csv => "csv".into(),
            },
            sha256: self.sha256.clone(),
            bytes: self.bytes,
            rows: self.rows.len(),
            extra_columns: self.extra_columns.clone(),
            prevalence: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> SampleSpec {
        SampleSpec::from_manifest(&crate::test_support::manifest(name))
    }

    fn load_text(name: &str, text: &str, component: &str) -> Result<Sample, SampleError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        load(&p, &spec(component))
    }

    fn err(name: &str, text: &str, component: &str) -> String {
        load_text(name, text, component).expect_err("must be refused").to_string()
    }

    #[test]
    fn nested_and_flat_jsonl() {
        let s = load_text(
            "s.jsonl",
            "{\"input\":{\"subject\":\"a\",\"body\":\"b\",\"sender_type\":\"citizen\"},\"label\":\"affald\",\"district\":\"nord\",\"expected\":{\"x\":1}}\n\
             \n\
             {\"subject\":\"c\",\"body\":\"d\",\"label\":\"skole\",\"district\":\"syd\"}\r\n",
            "postsortering",
        )
        .unwrap();
        assert_eq!(s.rows.len(), 2);
        assert_eq!(s.rows[0].line, 1);
        assert_eq!(s.rows[0].input["sender_type"], "citizen");
        assert_eq!(s.rows[0].extra.get("district").map(String::as_str), Some("nord"));
        assert!(!s.rows[0].extra.contains_key("expected"), "objects are not group columns");
        assert_eq!(s.rows[1].line, 3);
        assert_eq!(s.rows[1].truth, "skole");
        assert_eq!(s.rows[1].input, serde_json::json!({"subject": "c", "body": "d"}));
        assert_eq!(s.extra_columns, vec!["district".to_string()]);
        assert_eq!(s.sha256.len(), 64);
    }

    #[test]
    fn csv_with_types_semicolons_and_extra_columns() {
        let s = load_text(
            "s.csv",
            "\u{feff}text;reporter_type;child_age;prior_notifications_12m;known_to_municipality;label;district\n\
             \"Far slog; hun græd\";school;11;1;ja;acute;nord\n\
             Fravær;daycare;4;0;false;not_acute;\n",
            "underretning",
        )
        .unwrap();
        assert_eq!(s.format, SampleFormat::Csv);
        assert_eq!(s.rows.len(), 2);
        let r = &s.rows[0];
        assert_eq!(r.line, 2);
        assert_eq!(r.input["text"], "Far slog; hun græd");
        assert_eq!(r.input["child_age"], 11);
        assert_eq!(r.input["known_to_municipality"], true);
        assert_eq!(r.extra["district"], "nord");
        assert!(!s.rows[1].extra.contains_key("district"), "an empty extra cell is missing");
    }

    #[test]
    fn bad_samples_say_where_and_what() {
        let cases: &[(&str, &str, &str, &[&str])] = &[
            ("e.jsonl", "", "postsortering", &["e.jsonl has no labelled rows", "the file is empty"]),
            ("e.csv", "", "postsortering", &["e.csv has no labelled rows"]),
            ("h.csv", "subject,body,label\n", "postsortering", &["h.csv has no labelled rows"]),
            ("x.txt", "a", "postsortering", &["cannot tell the format", "*.jsonl", "*.csv"]),
            ("j.jsonl", "{\"subject\":\"a\",\"body\":\"b\",\"label\":\"affald\"}\n{nope\n", "postsortering", &["j.jsonl line 2: not valid JSON"]),
            ("a.jsonl", "[1,2]\n", "postsortering", &["line 1: expected a JSON object, found an array"]),
            ("l.jsonl", "{\"subject\":\"a\",\"body\":\"b\"}\n", "postsortering", &["line 1: no `label`", "affald"]),
            ("n.jsonl", "{\"subject\":\"a\",\"body\":\"b\",\"label\":3}\n", "postsortering", &["`label` must be a text"]),
            (
                "u.jsonl",
                "{\"subject\":\"a\",\"body\":\"b\",\"label\":\"affald\"}\n{\"subject\":\"a\",\"body\":\"b\",\"label\":\"Affald\"}\n",
                "postsortering",
                &["u.jsonl line 2: label \"Affald\" is not a label of `postsortering`", "use one of: byggesag, affald"],
            ),
            ("m.jsonl", "{\"subject\":\"a\",\"label\":\"affald\"}\n", "postsortering", &["line 1: field `body` is missing", "subject, body, sender_type"]),
            (
                "f.jsonl",
                "{\"input\":{\"subject\":\"a\",\"body\":\"b\",\"sender\":\"x\"},\"label\":\"affald\"}\n",
                "postsortering",
                &["input field `sender` is not in `postsortering`'s input schema"],
            ),
            ("c.csv", "subject,text,label\na,b,affald\n", "postsortering", &["c.csv: missing column(s) body", "columns found: subject, text, label", "Rename"]),
            ("nl.csv", "subject,body,truth\na,b,affald\n", "postsortering", &["no `label` column", "subject, body, truth"]),
            (
                "v.csv",
                "text,reporter_type,child_age,prior_notifications_12m,known_to_municipality,label\nx,school,elleve,0,true,acute\n",
                "underretning",
                &["v.csv line 2 column `child_age`: \"elleve\" is not a whole number"],
            ),
            (
                "b.csv",
                "text,reporter_type,child_age,prior_notifications_12m,known_to_municipality,label\nx,school,3,0,måske,acute\n",
                "underretning",
                &["line 2 column `known_to_municipality`", "true or false"],
            ),
            ("r.csv", "subject,body,label\na,b,affald\na,b\n", "postsortering", &["r.csv line 3: invalid CSV"]),
        ];
        for (name, text, component, expect) in cases {
            let e = err(name, text, component);
            for x in *expect {
                assert!(e.contains(x), "{name}: expected {x:?} in: {e}");
            }
        }
    }

    #[test]
    fn too_large_is_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.jsonl");
        // A sparse file: 1 GiB on paper, no disk used, and nothing is read.
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(1 << 30).unwrap();
        let e = load(&p, &spec("postsortering")).unwrap_err().to_string();
        assert!(e.contains("is 1073741824 bytes; the limit is 268435456"), "{e}");
        assert!(e.contains("komp validate plan"), "{e}");
    }
}
