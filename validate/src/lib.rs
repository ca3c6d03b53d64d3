//! # komp-validate: does a component work on *this* municipality's cases?
//!
//! A component is blue-stamped centrally on synthetic data; before anyone
//! relies on it, a municipality runs the exact signed component over its own
//! labelled sample and gets a report bound to what was tested (component
//! digest, signatures, the sample's sha256), with every metric's 95% interval
//! next to the component's own model card and a plain verdict.
//!
//! This crate has no runtime in it: [`evaluate`] takes the rows and a
//! prediction function, so the `komp validate` command passes the real
//! sandboxed runtime and the tests pass a fixed table.
//!
//! | module | one job |
//! |---|---|
//! | [`sample`] | read and check `.jsonl`/`.csv` samples |
//! | [`stats`] | Wilson intervals, the seeded bootstrap |
//! | [`metrics`] | accuracy, precision/recall/F1, confusion matrix, AUC |
//! | [`calibration`] | reliability bins, ECE, Brier |
//! | [`threshold`] | threshold curves (review and flag components) |
//! | [`groups`] | per-group results and disparity ratios |
//! | [`card`] | the component's kind and the verdict against its card |
//! | [`report`] | running it all: [`Report`] (`report.json`) |
//! | [`aggregate`] | counts-only export and `compare` |
//! | [`plan`] | the sample-size planner |
//! | [`plots`], [`html`] | `report.html` with inline SVG |
//! | [`run`] | one validation run over a loaded sample (shared by `komp validate run` and the host) |

pub mod aggregate;
pub mod calibration;
pub mod card;
pub mod groups;
pub mod html;
pub mod metrics;
pub mod plan;
pub mod plots;
pub mod report;
pub mod run;
pub mod sample;
pub mod stats;
pub mod threshold;

pub use aggregate::Aggregates;
pub use card::{ComponentInfo, Kind, Verdict};
pub use groups::GroupSpec;
pub use report::{evaluate, Evaluation, Options, PredictionLike, Report, RowError, ValidateError};
pub use run::{validate_sample, RunError, RunSettings};
pub use sample::{Sample, SampleError, SampleRow, SampleSpec};
pub use stats::Estimate;

/// What the unit tests share.
#[cfg(test)]
pub(crate) mod test_support {
    /// The standard component's manifest, compiled from its `komp.toml` as `komp build` does.
    pub(crate) fn manifest(name: &str) -> komp_artifact::Manifest {
        let source = format!("{}/../components/{name}/komp.toml", env!("CARGO_MANIFEST_DIR"));
        komp_author::source::compile(std::path::Path::new(&source)).unwrap_or_else(|e| panic!("{e}")).manifest
    }
}
