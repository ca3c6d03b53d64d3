#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static POLICY: OnceLock<komp_registry::TrustPolicy> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    komp_fuzz::artifact(data, POLICY.get_or_init(komp_fuzz::dev_policy));
});
