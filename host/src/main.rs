//! `komp`: pack, inspect and run komp standard AI components.
//!
//! Exit codes: 0 success, 1 the operation failed (the message says why),
//! 2 the command line was wrong.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use komp::commands;

#[derive(Parser)]
#[command(name = "komp", version, about = "Run shareable, signed standard AI components for municipalities.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new component folder from a template: a Rust crate against
    /// komp-sdk, komp.toml (the manifest source), the model card's prose in
    /// Markdown, a small trained model, a training script, golden vectors
    /// and samples. It builds and predicts before you change anything.
    ///
    /// Next: `cd NAME && komp build`. The tutorial is docs/authoring.md.
    New(commands::author::NewArgs),
    /// Build a component folder into a checked component file: compile
    /// komp.toml into the manifest, build the wasm with cargo (adding the
    /// wasm32-wasip2 target if missing), check the world and the models,
    /// pack, run the golden vectors and the input schema's examples in the
    /// real runtime, write dist/NAME-VERSION.wasm, and sign it with --sign.
    Build(commands::author::BuildArgs),
    /// Check a component folder as `komp build` does, without writing
    /// anything, and run a sample file through it; reports every failure.
    Test(commands::author::TestArgs),
    /// Build the single-file component artifact from a component built by
    /// cargo, its manifest and its ONNX models.
    ///
    /// Model digests in the manifest are filled in (or checked, if given).
    Pack {
        /// The component built with `cargo build --target wasm32-wasip2`.
        #[arg(long)]
        component: PathBuf,
        /// The manifest JSON (name, version, labels, input schema, model card, ...).
        #[arg(long)]
        manifest: PathBuf,
        /// A model as NAME=PATH (repeatable); NAME is what the component passes to load-by-name.
        #[arg(long = "model", value_name = "NAME=PATH")]
        models: Vec<String>,
        /// JSON file of golden vectors to put into the manifest (replaces its `golden_vectors`).
        #[arg(long)]
        golden: Option<PathBuf>,
        /// Where to write the artifact.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Show a component file: manifest summary, models with digests, world, size.
    Inspect {
        file: PathBuf,
        /// Print the whole manifest as JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Install a component in a local runtime and run one prediction.
    Predict {
        file: PathBuf,
        /// The input as JSON text, or @PATH to read it from a file.
        #[arg(long)]
        input: String,
        /// Wall-clock deadline in milliseconds.
        #[arg(long, default_value_t = 2000)]
        deadline_ms: u64,
        /// Memory cap of the instance in MiB.
        #[arg(long, default_value_t = 64)]
        memory_mib: usize,
    },
    /// Run the municipal HTTP host: Open Inference Protocol, JSON API,
    /// tenants, audit log, feedback, metrics.
    Serve(commands::serve::ServeArgs),
    /// Create, list and revoke bearer tokens (stored as hashes in the data directory).
    #[command(subcommand)]
    Token(commands::token::TokenCommand),
    /// Verify and export the audit log.
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
    /// Validate a component on your own labelled sample (report.html and
    /// report.json), plan how many cases to label, compare municipalities.
    #[command(subcommand)]
    Validate(commands::validate::ValidateCommand),
    #[command(flatten)]
    Registry(commands::registry::RegistryCommand),
    /// Push a signed component to an OCI registry (Wasm OCI artifact layout;
    /// tag = the file's version unless given). Pull it with `komp pull oci://…`.
    Push {
        /// The component file (`.wasm`).
        file: PathBuf,
        /// `oci://HOST[:PORT]/REPOSITORY[:TAG]`, e.g. oci://registry.kl.dk/komp/postsortering
        #[arg(value_name = "oci://HOST/REPO[:TAG]")]
        target: String,
        /// Refuse to push a file this trust policy refuses (hosts would refuse it too).
        #[arg(long, value_name = "POLICY", visible_alias = "trust-policy")]
        policy: Option<PathBuf>,
        /// Signed revocation list to check the file against (with --policy).
        #[arg(long, value_name = "LIST", requires = "policy")]
        revocations: Option<PathBuf>,
        #[command(flatten)]
        oci: commands::oci::ConnectionArgs,
    },
    /// Push a signed revocation list to an OCI registry namespace
    /// (NAMESPACE/komp_revocations:latest and :serial-N), where hosts syncing
    /// from `oci://HOST/NAMESPACE` take it from.
    PushRevocations {
        /// The signed revocation list file.
        list: PathBuf,
        /// `oci://HOST[:PORT]/NAMESPACE`
        #[arg(value_name = "oci://HOST/NAMESPACE")]
        namespace: String,
        /// Refuse to push a list no approver of this trust policy signed.
        #[arg(long, value_name = "POLICY", visible_alias = "trust-policy")]
        policy: Option<PathBuf>,
        #[command(flatten)]
        oci: commands::oci::ConnectionArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(
        cli.command,
        Command::Serve(_) | Command::Registry(commands::registry::RegistryCommand::ServeRegistry { .. })
    ) {
        // A one-shot command piped into `head` should end quietly when the
        // pipe closes, like any Unix tool, not panic in `println!`. (Servers
        // keep Rust's default: SIGPIPE ignored, EPIPE returned per socket.)
        // SAFETY: called before any other thread exists; SIG_DFL is a valid disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let result = match cli.command {
        // The server's configuration is resolved before logging starts, so
        // that `log_json` works from the file as well as from the flag.
        Command::Serve(args) if args.print_config => args.resolve().and_then(|config| {
            config.validate()?;
            println!("{}", serde_json::to_string_pretty(&config)?);
            Ok(())
        }),
        Command::Serve(args) => match args.resolve() {
            Ok(config) => {
                init_logging(config.log_json, "info");
                commands::serve::run(config)
            }
            Err(e) => Err(e),
        },
        command => {
            init_logging(false, "warn");
            run(command)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(json: bool, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KOMP_LOG").unwrap_or_else(|_| default_level.into());
    if json {
        tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::New(args) => commands::author::new(args, &mut std::io::stdout()),
        Command::Build(args) => commands::author::build(args, &mut std::io::stdout()).map(|_| ()),
        Command::Test(args) => commands::author::test(args, &mut std::io::stdout()),
        Command::Pack { component, manifest, models, golden, output } => {
            commands::component::pack(component, manifest, models, golden, output)
        }
        Command::Inspect { file, json } => commands::component::inspect(file, json),
        Command::Predict { file, input, deadline_ms, memory_mib } => {
            commands::component::predict(file, input, deadline_ms, memory_mib)
        }
        Command::Serve(args) => commands::serve::run(args.resolve()?),
        Command::Token(cmd) => commands::token::run(cmd),
        Command::Audit(cmd) => commands::audit::run(cmd),
        Command::Registry(cmd) => commands::registry::run(cmd),
        Command::Validate(cmd) => commands::validate::run(cmd),
        Command::Push { file, target, policy, revocations, oci } => {
            commands::oci::push(&file, &target, policy.as_deref(), revocations.as_deref(), &oci, &mut std::io::stdout())
        }
        Command::PushRevocations { list, namespace, policy, oci } => {
            commands::oci::push_revocations(&list, &namespace, policy.as_deref(), &oci, &mut std::io::stdout())
        }
    }
}
