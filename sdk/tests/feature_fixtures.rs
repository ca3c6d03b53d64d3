//! The SDK's text features equal the Python training features bit for bit on
//! the fixtures `training/make_fixtures.py` writes (tokens, step-9 marks and
//! the sparse and the dense hashed vector, step-10 request marks and the
//! vector with them): no train/serve skew. It lives
//! here, not in the end-to-end test crate, so it needs no wasmtime build.

use komp_sdk::text::{marked_content_tokens, request_marks, tokens, HashedText, Mark};

#[test]
fn sdk_features_equal_python_fixtures() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../components/models/feature-fixtures.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut checked = 0;
    let mut nonempty = 0;
    for (line_no, line) in text.lines().enumerate() {
        let f: serde_json::Value = serde_json::from_str(line).unwrap();
        let input = f["text"].as_str().unwrap();
        let dim = f["dim"].as_u64().unwrap() as usize;
        let want_tokens: Vec<String> = serde_json::from_value(f["tokens"].clone()).unwrap();
        assert_eq!(tokens(input), want_tokens, "line {}: tokens of {input:?}", line_no + 1);
        let marks: String = marked_content_tokens(input)
            .iter()
            .map(|(_, m)| match m {
                Mark::Plain => 'w',
                Mark::Negated => 'n',
                Mark::Past => 'h',
            })
            .collect();
        assert_eq!(marks, f["marks"].as_str().unwrap(), "line {}: marks of {input:?}", line_no + 1);
        let want: Vec<(usize, u32)> = f["nonzero"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_u64().unwrap() as usize, p[1].as_u64().unwrap() as u32))
            .collect();
        let h = HashedText::new(input, dim);
        // The one split the features, the marks and the out-of-distribution check share.
        assert_eq!(h.all_tokens(), want_tokens, "line {}: all_tokens of {input:?}", line_no + 1);
        let got: Vec<(usize, u32)> = h.ids().iter().zip(h.weights()).map(|(i, v)| (*i as usize, v.to_bits())).collect();
        assert_eq!(got, want, "line {}: features of {input:?}", line_no + 1);
        let dense: Vec<(usize, u32)> =
            h.dense().iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(i, v)| (i, v.to_bits())).collect();
        assert_eq!(dense, want, "line {}: dense features of {input:?}", line_no + 1);
        let request: String = request_marks(input)
            .iter()
            .map(|(_, s, r)| match (s, r) {
                (true, true) => 'b',
                (true, false) => 's',
                (false, true) => 'r',
                (false, false) => '-',
            })
            .collect();
        assert_eq!(request, f["request"].as_str().unwrap(), "line {}: request marks of {input:?}", line_no + 1);
        let want_r: Vec<(usize, u32)> = f["nonzero_request"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_u64().unwrap() as usize, p[1].as_u64().unwrap() as u32))
            .collect();
        let hr = HashedText::with_request_marks(input, dim);
        let got_r: Vec<(usize, u32)> =
            hr.ids().iter().zip(hr.weights()).map(|(i, v)| (*i as usize, v.to_bits())).collect();
        assert_eq!(got_r, want_r, "line {}: request-marked features of {input:?}", line_no + 1);
        checked += 1;
        nonempty += usize::from(!want.is_empty());
    }
    assert!(checked >= 200, "only {checked} fixtures");
    assert!(nonempty >= 150, "only {nonempty} non-empty fixtures");
}
