//! The cargo-fuzz targets of `fuzz/`, run on stable as ordinary tests: each
//! target body on thousands of mutated inputs from real seeds (a seeded
//! PRNG, so a failure reproduces). The long, coverage-guided runs are
//! `cargo +nightly fuzz run <target>` (see SECURITY.md).

#[path = "../../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod bodies;

/// xorshift64*: small, seeded, good enough to mutate bytes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"0",
    b"-1",
    b"4294967295",
    b"18446744073709551616",
    b"1e309",
    b"null",
    b"[]",
    b"{}",
    b"\"\"",
    b"\\u0000",
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x00",
    b"\x7f\xff\xff\xff",
    b"\"BYTES\"",
    b"\"FP32\"",
    b"[-1]",
    b"[9223372036854775807]",
];

/// One to four mutations: flip, overwrite, truncate, insert, duplicate,
/// splice another seed, or insert an interesting token.
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], mut data: Vec<u8>) -> Vec<u8> {
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len() + 1);
        let last = data.len().saturating_sub(1);
        match rng.below(7) {
            0 if !data.is_empty() => data[at.min(last)] ^= 1 << rng.below(8),
            1 if !data.is_empty() => data[at.min(last)] = rng.next() as u8,
            2 => data.truncate(at),
            3 => {
                let n = rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                data.splice(at..at, bytes);
            }
            4 if !data.is_empty() => {
                let len = rng.below(64).min(data.len() - at.min(data.len()));
                let chunk = data[at.min(data.len())..at.min(data.len()) + len].to_vec();
                let to = rng.below(data.len() + 1);
                data.splice(to..to, chunk);
            }
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                let end = (from + rng.below(256)).min(other.len());
                data.splice(at..at, other[from..end].iter().copied());
            }
            _ => {
                let token = INTERESTING[rng.below(INTERESTING.len())];
                data.splice(at..at, token.iter().copied());
            }
        }
    }
    data
}

fn run(name: &str, seeds: Vec<Vec<u8>>, iterations: usize, mut body: impl FnMut(&[u8])) {
    let mut rng = Rng(0x6b6f_6d70 ^ name.len() as u64);
    for s in &seeds {
        body(s);
    }
    for i in 0..iterations {
        let seed = seeds[rng.below(seeds.len())].clone();
        let input = mutate(&mut rng, &seeds, seed);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&input)));
        if result.is_err() {
            let path = std::env::temp_dir().join(format!("komp-fuzz-{name}-{i}.bin"));
            std::fs::write(&path, &input).unwrap();
            panic!(
                "{name}: iteration {i} panicked; input saved to {} (replay: cargo +nightly fuzz run {name} {})",
                path.display(),
                path.display()
            );
        }
    }
}

#[test]
fn artifact_parser_and_verifier() {
    let root = komp_tests::root();
    let policy = bodies::dev_policy();
    let signed = std::fs::read(root.join("target/komp-components/example-feedback.wasm"))
        .expect("run scripts/build-components.sh");
    let mut seeds = vec![
        signed.clone(),
        komp_tests::packed(&komp_tests::HOSTILE),
        b"\0asm\x0d\0\x01\0".to_vec(),
        b"\0asm\x01\0\0\0".to_vec(),
        Vec::new(),
    ];
    // The signature section alone, and the file cut after its first sections.
    let sections = komp_artifact::sections::top_level_sections(&signed).unwrap();
    seeds.push(signed[sections[0].data.clone()].to_vec());
    seeds.push(signed[..sections[2].range.end].to_vec());
    // Mutations near the start hit framing and the signature; elsewhere code and models.
    run("artifact", seeds, 3_000, |d| bodies::artifact(d, &policy));
}

#[test]
fn oip_body_parser() {
    let text = br#"{"subject":"Skrald","body":"Ikke hentet"}"#;
    let mut bin = (text.len() as u32).to_le_bytes().to_vec();
    bin.extend_from_slice(text);
    let header = format!(
        r#"{{"inputs":[{{"name":"input","shape":[1],"datatype":"BYTES","parameters":{{"binary_data_size":{}}}}}],"outputs":[{{"name":"label","parameters":{{"binary_data":true}}}}]}}"#,
        bin.len()
    );
    let mut binary = vec![2u8];
    binary.extend_from_slice(header.as_bytes());
    binary.extend_from_slice(&bin);
    let seeds = vec![
        binary,
        [&[0u8][..], br#"{"id":"1","inputs":[{"name":"input","shape":[2],"datatype":"BYTES","data":["Tak","{\"text\":\"hej\"}"]}]}"#].concat(),
        [&[0u8][..], br#"{"inputs":[{"name":"age","shape":[1,1],"datatype":"INT64","data":[[11]]},{"name":"text","shape":[1],"datatype":"BYTES","data":["x"]}],"parameters":{"binary_data_output":true}}"#].concat(),
        [&[2u8][..], br#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}"#, &[0, 0, 128, 63, 0, 0, 0, 64]].concat(),
        [&[2u8][..], br#"{"inputs":[{"name":"b","shape":[3],"datatype":"BOOL","parameters":{"binary_data_size":3}}]}"#, &[1, 0, 1]].concat(),
        [&[1u8][..], br#"{"inputs":[{"name":"n","shape":[1],"datatype":"UINT64","parameters":{"binary_data_size":8}}]}"#, &[255; 8]].concat(),
    ];
    run("oip_body", seeds, 50_000, bodies::oip_body);
}

#[test]
fn json_input_validation() {
    let rt = bodies::runtime_with_components(&komp_tests::root());
    let components = rt.components();
    let seeds: Vec<Vec<u8>> = [
        r#"{"text":"Tak for den hurtige hjælp"}"#,
        r#"{"subject":"Skraldespand ikke tømt","body":"Hej, vores restaffald er ikke hentet","sender_type":"citizen"}"#,
        r#"{"text":"Eleven fortalte at far slog hende","reporter_type":"school","child_age":11,"prior_notifications_12m":1,"known_to_municipality":false}"#,
        r#"{"text":"","extra":[1,2,{"a":null}],"child_age":-1e308}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let mut i = 0usize;
    run("json_input", seeds, 20_000, |d| {
        i += 1;
        bodies::json_input(&rt, &components[i % components.len()], d)
    });
}
