#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static RT: OnceLock<komp_runtime::Runtime> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let rt = RT.get_or_init(|| komp_fuzz::runtime_with_components(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()));
    // The first byte picks the component, the rest is the input.
    let Some((&pick, input)) = data.split_first() else { return };
    let components = rt.components();
    let c = &components[pick as usize % components.len()];
    komp_fuzz::json_input(rt, c, input);
});
