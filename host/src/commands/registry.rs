//! The registry subcommands of `komp`: keys, signing, verification,
//! revocation, and the local or remote registry.
//!
//! The `komp` binary flattens [`RegistryCommand`] into its own subcommands
//! and calls [`run`]. Every command prints what it did; a command that
//! refuses something returns an error (and so a non-zero exit).

use anyhow::{anyhow, bail, Context, Result};
use clap::builder::TypedValueParser as _;
use clap::{ArgGroup, Subcommand};
use komp_artifact::Artifact;
use komp_registry::http::auth::{Authorizer, PushTokenFile, PushTokenHashes};
use komp_registry::http::client::Client;
use komp_registry::http::serve::ServeLimits;
use komp_registry::http::server::RegistryServer;
use komp_registry::http::sync::sync_from;
use komp_registry::keys::{KeyPair, PublicKey, Role};
use komp_registry::revocation::{RevocationList, SignedRevocationList};
use komp_registry::signature::sign;
use komp_registry::store::Registry;
use komp_registry::trust::{check_signatures, check_yank, enforce, SignatureStatus, TrustPolicy};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Registry, signing and trust commands.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Create an Ed25519 key pair for a publisher or an approver.
    ///
    /// Writes `<role>-<id>.private.json` (mode 0600; keep it secret) and
    /// `<role>-<id>.public.json` (give it to the hosts that should trust you)
    /// into DIR. Existing files are never overwritten.
    Keygen {
        /// What the key is for: `publisher` signs components it built,
        /// `approver` endorses components and signs revocation lists.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["publisher", "approver"]).map(|s| s.parse::<Role>().expect("one of the possible values")))]
        role: Role,
        /// Who holds the key, e.g. "Aarhus Kommune".
        #[arg(long)]
        owner: String,
        /// Directory to write the key files into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Build a trust policy file from public key files.
    TrustPolicy {
        /// Public key file of a publisher to trust (repeatable).
        #[arg(long, value_name = "PUBLIC_KEY")]
        publisher: Vec<PathBuf>,
        /// Public key file of an approver to trust (repeatable).
        #[arg(long, value_name = "PUBLIC_KEY")]
        approver: Vec<PathBuf>,
        /// Accept components without an approver endorsement (not for the
        /// `standard` channel).
        #[arg(long)]
        no_endorsement: bool,
        /// Where to write the policy.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Sign a component file with a publisher key.
    ///
    /// Signatures already in the file are kept; the component's digest does
    /// not change. Uses the WebAssembly tool-conventions signature format, so
    /// `wasmsign2 verify` can check the result too.
    Sign {
        /// The component file (`.wasm`).
        file: PathBuf,
        /// Publisher private key file.
        #[arg(long, value_name = "PRIVATE_KEY")]
        key: PathBuf,
        /// Output file (default: sign FILE in place).
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// Endorse a component file with an approver key (the "blue stamp").
    Endorse {
        /// The component file (`.wasm`), normally already signed by its publisher.
        file: PathBuf,
        /// Approver private key file.
        #[arg(long, value_name = "PRIVATE_KEY")]
        key: PathBuf,
        /// Output file (default: endorse FILE in place).
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// Check a component's signatures against a trust policy.
    ///
    /// Prints every signature with its key id, role and status, then whether
    /// the policy is met. Exits non-zero if it is not. Nothing is compiled or
    /// run.
    Verify {
        /// The component file (`.wasm`).
        file: PathBuf,
        /// Trust policy file (JSON: publishers, approvers, require_endorsement).
        #[arg(long, value_name = "POLICY")]
        policy: PathBuf,
        /// Signed revocation list to apply (verified against the policy first).
        #[arg(long, value_name = "LIST")]
        revocations: Option<PathBuf>,
    },
    /// Revoke a key: add it to the signed revocation list.
    Revoke {
        /// Id of the key to revoke, e.g. `ed25519:1a2b3c4d5e6f7a8b`.
        #[arg(long)]
        key_id: String,
        /// Why, in words that will be shown to every host that refuses a component.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Yank a release: add NAME@VERSION to the signed revocation list.
    Yank {
        /// The release, e.g. `underretning@1.2.0`.
        #[arg(value_name = "NAME@VERSION")]
        component: String,
        /// Why, in words that will be shown to every host that refuses it.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Re-issue the signed revocation list unchanged, with the next serial and
    /// a new expiry time. Run it before the current list expires (e.g.
    /// monthly), even when nothing new is revoked.
    RenewRevocations {
        #[command(flatten)]
        list: ListArgs,
    },
    /// Publish a component into a local registry (verified first).
    Publish {
        /// The component file (`.wasm`).
        file: PathBuf,
        /// Registry directory (created if missing).
        #[arg(long, value_name = "DIR")]
        registry: PathBuf,
        /// Trust policy the component must meet.
        #[arg(long, value_name = "POLICY")]
        policy: PathBuf,
    },
    /// Store a signed revocation list in a local registry (newer serials only,
    /// signed by an approver of the policy).
    ApplyRevocations {
        /// Signed revocation list file.
        list: PathBuf,
        #[arg(long, value_name = "DIR")]
        registry: PathBuf,
        #[arg(long, value_name = "POLICY")]
        policy: PathBuf,
    },
    /// List the components of a registry.
    #[command(group(ArgGroup::new("source").required(true).args(["registry", "from"])))]
    List {
        /// Local registry directory.
        #[arg(long, value_name = "DIR")]
        registry: Option<PathBuf>,
        /// Remote registry base URL, e.g. `http://127.0.0.1:7070`.
        #[arg(long, value_name = "URL")]
        from: Option<String>,
    },
    /// Show a release: manifest summary, digest, signatures, yank status.
    #[command(group(ArgGroup::new("source").required(true).args(["registry", "from"])))]
    Show {
        /// `NAME` (latest installable version) or `NAME@VERSION`.
        #[arg(value_name = "NAME[@VERSION]")]
        component: String,
        #[arg(long, value_name = "DIR")]
        registry: Option<PathBuf>,
        #[arg(long, value_name = "URL")]
        from: Option<String>,
        /// Print the whole manifest as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Copy a release out of a registry into a file.
    ///
    /// From a remote registry (`--from`) or an OCI registry
    /// (`oci://HOST[:PORT]/REPO:TAG`), the file is verified against
    /// `--policy` before it is written: the transport is never trusted.
    #[command(group(ArgGroup::new("source").args(["registry", "from"])))]
    Pull {
        /// `NAME` (latest installable version) or `NAME@VERSION` with
        /// --registry or --from; or `oci://HOST[:PORT]/REPO:TAG` (or `@sha256:…`).
        #[arg(value_name = "NAME[@VERSION] | oci://…")]
        component: String,
        #[arg(long, value_name = "DIR")]
        registry: Option<PathBuf>,
        #[arg(long, value_name = "URL", requires = "policy")]
        from: Option<String>,
        /// Trust policy to verify against (required with `--from` and `oci://`).
        #[arg(long, value_name = "POLICY", visible_alias = "trust-policy")]
        policy: Option<PathBuf>,
        /// Signed revocation list to apply as well (`oci://` only; verified
        /// against the policy; the newer of it and the registry's own list counts).
        #[arg(long, value_name = "LIST")]
        revocations: Option<PathBuf>,
        /// Output file.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        #[command(flatten)]
        oci: super::oci::ConnectionArgs,
    },
    /// Mirror a remote registry into a local one, verifying every release.
    Sync {
        /// Remote registry base URL.
        #[arg(long, value_name = "URL")]
        from: String,
        #[arg(long, value_name = "DIR")]
        registry: PathBuf,
        #[arg(long, value_name = "POLICY")]
        policy: PathBuf,
    },
    /// Serve a registry over HTTP (`/registry/v1/...`), e.g. as the central
    /// registry that municipal hosts sync from.
    ServeRegistry {
        #[arg(long, value_name = "DIR")]
        registry: PathBuf,
        /// Policy that pushed components must meet.
        #[arg(long, value_name = "POLICY")]
        policy: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7070")]
        listen: String,
        /// File with the sha256 (hex) of each accepted push token, one per
        /// line. Without it, pushes are refused. It is re-read on every push,
        /// so deleting a line revokes that token at once.
        #[arg(long, value_name = "FILE")]
        push_token_hashes: Option<PathBuf>,
        /// Seconds a client may take to send a request head (and an idle
        /// connection stays open).
        #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
        header_timeout_secs: u64,
        /// Seconds one request may take, upload included (then 408).
        #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
        request_timeout_secs: u64,
        /// Serve the public web catalog under `/ui` (in Danish): every
        /// component with its model card, signatures (checked against
        /// POLICY) and yank status, as anonymous API reads show them. Off by
        /// default: without it, `/ui` is not served.
        #[arg(long)]
        public_catalog: bool,
    },
}

/// Where a revocation list lives and who signs the next one.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Approver private key that signs the updated list.
    #[arg(long, value_name = "PRIVATE_KEY")]
    pub key: PathBuf,
    /// The signed revocation list file to update (created if missing).
    #[arg(long, value_name = "FILE", default_value = "revocations.json")]
    pub list: PathBuf,
    /// Trust policy to verify the existing list with, when another approver
    /// signed it.
    #[arg(long, value_name = "POLICY")]
    pub policy: Option<PathBuf>,
    /// How long the new list is valid: hosts warn (and may refuse installs)
    /// once it has expired, so re-issue it before then (`komp renew-revocations`).
    /// A number with a unit: `30d`, `12h`, `90m`, `3600s` (at most 366 days).
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_validity)]
    pub valid_for: std::time::Duration,
}

/// Parses `30d`, `12h`, `90m` or `3600s` (the unit is required, so `30`
/// cannot be misread as seconds or days).
pub fn parse_validity(text: &str) -> std::result::Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| format!("{text:?} is not a duration like 30d, 12h, 90m or 3600s"))?;
    let unit_secs = match unit {
        "d" => 86_400,
        "h" => 3600,
        "m" => 60,
        "s" => 1,
        _ => return Err(format!("{text:?} needs a unit: d, h, m or s (e.g. 30d)")),
    };
    let secs = n.checked_mul(unit_secs).ok_or_else(|| format!("{text:?} is too long"))?;
    let max = komp_registry::revocation::MAX_VALIDITY;
    if secs == 0 || secs > max.as_secs() {
        return Err(format!("{text:?} must be between 1s and {}d", max.as_secs() / 86_400));
    }
    Ok(std::time::Duration::from_secs(secs))
}

/// Runs a command, printing to stdout.
pub fn run(cmd: RegistryCommand) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    execute(cmd, &mut out)
}

/// Runs a command, printing to `out` (for tests and embedding).
pub fn execute(cmd: RegistryCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        RegistryCommand::Keygen { role, owner, out: dir } => {
            let pair = KeyPair::generate(role, &owner);
            let (private, public) = pair.save(&dir)?;
            writeln!(out, "created {role} key {} for {owner}", pair.key_id())?;
            writeln!(out, "  private: {} (keep secret)", private.display())?;
            writeln!(out, "  public:  {} (add it to the trust policies of the hosts)", public.display())?;
        }
        RegistryCommand::TrustPolicy { publisher, approver, no_endorsement, output } => {
            let load = |paths: &[PathBuf]| -> Result<Vec<PublicKey>> {
                paths.iter().map(|p| Ok(PublicKey::load(p)?)).collect()
            };
            let policy = TrustPolicy {
                publishers: load(&publisher)?,
                approvers: load(&approver)?,
                require_endorsement: !no_endorsement,
            };
            TrustPolicy::from_json(&policy.to_json()).map_err(|e| anyhow!("{e}"))?;
            komp_registry::fsutil::write_atomic(&output, (policy.to_json() + "\n").as_bytes())
                .with_context(|| format!("cannot write {}", output.display()))?;
            writeln!(
                out,
                "wrote {}: {} publisher(s), {} approver(s), endorsement {}",
                output.display(),
                policy.publishers.len(),
                policy.approvers.len(),
                if policy.require_endorsement { "required" } else { "not required" }
            )?;
        }
        RegistryCommand::Sign { file, key, output } => sign_file(&file, &key, output.as_deref(), Role::Publisher, out)?,
        RegistryCommand::Endorse { file, key, output } => {
            sign_file(&file, &key, output.as_deref(), Role::Approver, out)?
        }
        RegistryCommand::Verify { file, policy, revocations } => {
            verify_file(&file, &policy, revocations.as_deref(), out)?
        }
        RegistryCommand::Revoke { key_id, reason, list } => {
            let (key, mut next) = next_list(&list)?;
            next.revoke_key(&key_id, &reason);
            save_list(&list, &key, &next, out)?;
            writeln!(out, "revoked {key_id}: {reason}")?;
        }
        RegistryCommand::Yank { component, reason, list } => {
            let (name, version) = split_spec(&component)?;
            let version = version.ok_or_else(|| anyhow!("yank needs NAME@VERSION, got {component:?}"))?;
            let (key, mut next) = next_list(&list)?;
            next.yank(&name, &version, &reason);
            save_list(&list, &key, &next, out)?;
            writeln!(out, "yanked {name}@{version}: {reason}")?;
        }
        RegistryCommand::RenewRevocations { list } => {
            let (key, next) = next_list(&list)?;
            save_list(&list, &key, &next, out)?;
        }
        RegistryCommand::Publish { file, registry, policy } => {
            let policy = TrustPolicy::load(&policy)?;
            let bytes = read(&file)?;
            let reg = Registry::open(&registry)?;
            let p = reg.publish(bytes, &policy)?;
            writeln!(out, "{:?}: {} (digest {})", p.outcome, p.entry.id(), p.entry.digest)?;
        }
        RegistryCommand::ApplyRevocations { list, registry, policy } => {
            let policy = TrustPolicy::load(&policy)?;
            let signed = SignedRevocationList::load(&list)?;
            let applied = Registry::open(&registry)?.set_revocations(&signed, &policy)?;
            writeln!(
                out,
                "applied revocation list serial {}: {} revoked key(s), {} yanked release(s)",
                applied.serial,
                applied.revoked_keys.len(),
                applied.yanked.len()
            )?;
        }
        RegistryCommand::List { registry, from } => {
            let list = match (registry, from) {
                (Some(dir), _) => Registry::open(&dir)?.list()?,
                (None, Some(url)) => Client::new(&url).list()?,
                (None, None) => unreachable!("clap requires a source"),
            };
            if list.is_empty() {
                writeln!(out, "(no components)")?;
            }
            for c in list {
                let versions: Vec<String> = c
                    .versions
                    .iter()
                    .map(|v| if v.yanked { format!("{} (yanked)", v.version) } else { v.version.to_string() })
                    .collect();
                let latest = c.latest.map_or("none installable".to_string(), |v| v.to_string());
                writeln!(out, "{}  latest {latest}  versions {}", c.name, versions.join(", "))?;
            }
        }
        RegistryCommand::Show { component, registry, from, json } => {
            let (name, version) = split_spec(&component)?;
            let (info, manifest) = match (registry, from) {
                (Some(dir), _) => Registry::open(&dir)?.show(&name, version.as_ref())?,
                (None, Some(url)) => {
                    let client = Client::new(&url);
                    let version = remote_version(&client, &name, version)?;
                    let r = client.show(&name, &version)?;
                    (r.info, r.manifest)
                }
                (None, None) => unreachable!("clap requires a source"),
            };
            let e = &info.entry;
            writeln!(out, "{}  {}", e.id(), manifest.description)?;
            writeln!(out, "  publisher:   {}", manifest.publisher)?;
            writeln!(out, "  licence:     {}", manifest.licence)?;
            writeln!(out, "  risk class:  {:?}", manifest.ai_act.risk_class)?;
            writeln!(out, "  digest:      {}", e.digest)?;
            writeln!(out, "  size:        {} bytes", e.size)?;
            writeln!(out, "  published:   {}", e.published_at)?;
            for s in &e.signatures {
                let role = s.role.map_or("unknown".into(), |r| r.to_string());
                writeln!(out, "  signed by:   {} ({role}, {})", s.key_id, s.owner.as_deref().unwrap_or("?"))?;
            }
            if let Some(y) = &info.yanked {
                writeln!(out, "  YANKED at {}: {}", y.yanked_at, y.reason)?;
            }
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&manifest)?)?;
            }
        }
        RegistryCommand::Pull { component, registry, from, policy, revocations, output, oci } => {
            if super::oci::is_oci(&component) {
                if registry.is_some() || from.is_some() {
                    bail!("{component} is an OCI reference: give neither --registry nor --from with it");
                }
                let policy = policy.ok_or_else(|| anyhow!("pulling from an OCI registry needs --policy POLICY"))?;
                return super::oci::pull(&component, &output, &policy, revocations.as_deref(), &oci, out);
            }
            if registry.is_none() && from.is_none() {
                bail!("pull {component} from where? Give --registry DIR, --from URL, or an oci:// reference");
            }
            if oci.any() || revocations.is_some() {
                bail!("--revocations, --plain-http, --ca-file, --docker-config, --username and --token apply to oci:// references only");
            }
            let (name, version) = split_spec(&component)?;
            let policy = policy.map(|p| TrustPolicy::load(&p)).transpose()?;
            let (bytes, id) = match (registry, from) {
                (Some(dir), _) => {
                    let reg = Registry::open(&dir)?;
                    let version = match version {
                        Some(v) => v,
                        None => reg.latest(&name)?.ok_or_else(|| anyhow!("{name} has no installable version"))?,
                    };
                    let bytes = reg.get(&name, &version)?;
                    if let Some(p) = &policy {
                        komp_registry::trust::verify_bytes(bytes.clone(), p, &reg.revocations()?)?;
                    }
                    (bytes, format!("{name}@{version}"))
                }
                (None, Some(url)) => {
                    let client = Client::new(&url);
                    let version = remote_version(&client, &name, version)?;
                    let bytes = client.artifact(&name, &version)?;
                    // Verify with our policy; only a revocation list signed by
                    // one of our approvers counts.
                    let policy = policy.as_ref().expect("clap requires --policy with --from");
                    let revocations = match client.revocations()? {
                        Some(s) => s.verify(policy).unwrap_or_else(|e| {
                            let _ = writeln!(out, "warning: ignoring the registry's revocation list: {e}");
                            RevocationList::empty()
                        }),
                        None => RevocationList::empty(),
                    };
                    let (art, _) = komp_registry::trust::verify_bytes(bytes, policy, &revocations)?;
                    let m = art.manifest();
                    if m.name != name || m.version != version {
                        bail!("asked for {name}@{version}, but the registry sent {}", m.id());
                    }
                    (art.into_bytes(), format!("{name}@{version}"))
                }
                (None, None) => unreachable!("checked above"),
            };
            komp_registry::fsutil::write_atomic(&output, &bytes)
                .with_context(|| format!("cannot write {}", output.display()))?;
            writeln!(out, "pulled {id} -> {} ({} bytes)", output.display(), bytes.len())?;
        }
        RegistryCommand::Sync { from, registry, policy } => {
            let policy = TrustPolicy::load(&policy)?;
            let reg = Registry::open(&registry)?;
            let r = sync_from(&from, &reg, &policy)?;
            writeln!(out, "revocations: {:?}", r.revocations)?;
            writeln!(
                out,
                "added {}, updated {}, unchanged {}, yanked {}, refused {}",
                r.added.len(),
                r.updated.len(),
                r.unchanged,
                r.yanked.len(),
                r.refused.len()
            )?;
            for id in &r.added {
                writeln!(out, "  added {id}")?;
            }
            for id in &r.updated {
                writeln!(out, "  updated {id}")?;
            }
            for (id, why) in &r.refused {
                writeln!(out, "  REFUSED {id}: {why}")?;
            }
            if !r.refused.is_empty() {
                bail!("{} release(s) were refused", r.refused.len());
            }
        }
        RegistryCommand::ServeRegistry {
            registry,
            policy,
            listen,
            push_token_hashes,
            header_timeout_secs,
            request_timeout_secs,
            public_catalog,
        } => {
            let policy = TrustPolicy::load(&policy)?;
            let reg = Registry::open(&registry)?;
            let auth: Arc<dyn Authorizer> = match &push_token_hashes {
                Some(p) => Arc::new(PushTokenFile::open(p).map_err(|e| anyhow!("{e}"))?),
                None => Arc::new(PushTokenHashes::default()),
            };
            let mut router = RegistryServer::new(reg.clone(), policy.clone()).auth(auth).router();
            if public_catalog {
                router = router.merge(komp_web::registry::router(reg, policy));
            }
            let limits = ServeLimits {
                header_timeout: std::time::Duration::from_secs(header_timeout_secs),
                request_timeout: std::time::Duration::from_secs(request_timeout_secs),
            };
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async {
                let listener = tokio::net::TcpListener::bind(&listen)
                    .await
                    .with_context(|| format!("cannot listen on {listen}"))?;
                writeln!(out, "serving registry {} on http://{}", registry.display(), listener.local_addr()?)?;
                if public_catalog {
                    writeln!(out, "public catalog on http://{}/ui/", listener.local_addr()?)?;
                }
                out.flush()?;
                let shutdown = async {
                    let _ = tokio::signal::ctrl_c().await;
                };
                komp_registry::http::serve::serve(listener, router, limits, shutdown).await;
                Ok::<_, anyhow::Error>(())
            })?;
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Splits `name` or `name@version`.
fn split_spec(spec: &str) -> Result<(String, Option<semver::Version>)> {
    match spec.split_once('@') {
        None => Ok((spec.to_string(), None)),
        Some((name, v)) => {
            let version = v.parse().map_err(|e| anyhow!("{v:?} in {spec:?} is not a semantic version: {e}"))?;
            Ok((name.to_string(), Some(version)))
        }
    }
}

/// Signs (publisher) or endorses (approver) `file` in place; returns the
/// key's id and owner, for `komp build`'s summary.
pub(crate) fn sign_with(file: &Path, key: &Path, role: Role, out: &mut dyn Write) -> Result<String> {
    sign_file(file, key, None, role, out)?;
    let pair = KeyPair::load(key)?;
    Ok(format!(
        "{} {} ({})",
        if role == Role::Approver { "endorsed by" } else { "signed by" },
        pair.key_id(),
        pair.owner
    ))
}

fn sign_file(file: &Path, key: &Path, output: Option<&Path>, role: Role, out: &mut dyn Write) -> Result<()> {
    let pair = KeyPair::load(key)?;
    if pair.role != role {
        let hint = match role {
            Role::Publisher => "use `endorse` with an approver key",
            Role::Approver => "use `sign` with a publisher key",
        };
        bail!("{} is a {} key, but this command needs a {role} key; {hint}", pair.key_id(), pair.role);
    }
    let art = Artifact::parse(read(file)?).with_context(|| format!("{} is not a komp component", file.display()))?;
    let signed = sign(&art, &pair.signing, &pair.key_id())?;
    let dest = output.unwrap_or(file);
    komp_registry::fsutil::write_atomic(dest, &signed).with_context(|| format!("cannot write {}", dest.display()))?;
    let verb = if role == Role::Approver { "endorsed" } else { "signed" };
    writeln!(
        out,
        "{verb} {} (digest {}) with {} ({}) -> {}",
        art.manifest().id(),
        art.digest(),
        pair.key_id(),
        pair.owner,
        dest.display()
    )?;
    Ok(())
}

fn verify_file(file: &Path, policy: &Path, revocations: Option<&Path>, out: &mut dyn Write) -> Result<()> {
    let policy = TrustPolicy::load(policy)?;
    let revocations = match revocations {
        Some(p) => SignedRevocationList::load(p)?
            .verify(&policy)
            .with_context(|| format!("revocation list {}", p.display()))?,
        None => RevocationList::empty(),
    };
    let art = Artifact::parse(read(file)?).with_context(|| format!("{} is not a komp component", file.display()))?;
    writeln!(out, "{}  {}", file.display(), art.manifest().id())?;
    writeln!(out, "  digest: {}", art.digest())?;
    if revocations.serial > 0 {
        let status = revocations.expiry_status(std::time::SystemTime::now());
        let mark = if status.is_fresh() { "" } else { "WARNING: " };
        writeln!(out, "  revocations: serial {}; {mark}{status}", revocations.serial)?;
    }
    let checks = check_signatures(art.signature_section(), art.signed_content(), &policy);
    if let Ok(checks) = &checks {
        for c in checks {
            let role = c.role.map_or("not trusted".to_string(), |r| r.to_string());
            let status = match c.status {
                SignatureStatus::Valid => "valid",
                SignatureStatus::ContentChanged => "INVALID: content changed after signing",
                SignatureStatus::Invalid => "INVALID: bad signature",
                SignatureStatus::UnknownKey => "unknown key (not checked)",
            };
            writeln!(out, "  signature {}  {role}  {}  {status}", c.key_id, c.owner.as_deref().unwrap_or("-"))?;
        }
    }
    let result = checks
        .and_then(|c| enforce(&c, &policy, &revocations))
        .and_then(|_| check_yank(&art.manifest().name, &art.manifest().version, &revocations));
    match result {
        Ok(()) => {
            writeln!(out, "  policy: met")?;
            Ok(())
        }
        Err(e) => {
            writeln!(out, "  policy: NOT met: {e}")?;
            Err(anyhow!(e).context(format!("{} does not meet the trust policy", file.display())))
        }
    }
}

/// Loads the approver key and the current list (verified before it is
/// extended), and returns the next list to edit.
fn next_list(args: &ListArgs) -> Result<(KeyPair, RevocationList)> {
    let key = KeyPair::load(&args.key)?;
    if key.role != Role::Approver {
        bail!("{} is a {} key; revocation lists are signed with an approver key", key.key_id(), key.role);
    }
    if !args.list.exists() {
        let mut next = RevocationList::empty().next()?;
        next.set_validity(args.valid_for)?;
        return Ok((key, next));
    }
    let current = SignedRevocationList::load(&args.list)?;
    let policy = if current.key_id == key.key_id() {
        TrustPolicy { publishers: vec![], approvers: vec![key.public()], require_endorsement: true }
    } else {
        let p = args.policy.as_ref().ok_or_else(|| {
            anyhow!(
                "{} was signed by {}, not by your key; pass --policy so it can be verified before it is extended",
                args.list.display(),
                current.key_id
            )
        })?;
        TrustPolicy::load(p)?
    };
    let list = current.verify(&policy).with_context(|| format!("existing list {}", args.list.display()))?;
    if let Some(r) = list.revoked_key(&key.key_id()) {
        bail!(
            "your key {} is revoked by {} ({}, at {}); hosts refuse lists it signs, so have another approver sign",
            r.key_id,
            args.list.display(),
            r.reason,
            r.revoked_at
        );
    }
    let mut next = list.next()?;
    next.set_validity(args.valid_for)?;
    Ok((key, next))
}

fn save_list(args: &ListArgs, key: &KeyPair, list: &RevocationList, out: &mut dyn Write) -> Result<()> {
    let signed = SignedRevocationList::sign(list, key)?;
    signed.save(&args.list)?;
    writeln!(
        out,
        "wrote {} (serial {}, signed by {}, expires {})",
        args.list.display(),
        list.serial,
        key.key_id(),
        list.expires.as_deref().unwrap_or("never")
    )?;
    Ok(())
}

/// The requested version, or the remote registry's latest installable one.
fn remote_version(client: &Client, name: &str, version: Option<semver::Version>) -> Result<semver::Version> {
    match version {
        Some(v) => Ok(v),
        None => client.versions(name)?.latest.ok_or_else(|| anyhow!("{name} has no installable version")),
    }
}
