//! `komp push`, `komp push-revocations` and `komp pull oci://…`: components
//! and revocation lists through OCI registries (komp-oci). The registry is
//! only storage: a pull is verified against the local trust policy before
//! anything is written, and a push (with `--policy`) refuses what hosts
//! would refuse.

use anyhow::{anyhow, Context, Result};
use komp_oci::{ClientOptions, Credentials, OciClient, Reference};
use komp_registry::revocation::{RevocationList, SignedRevocationList};
use komp_registry::trust::TrustPolicy;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// How to reach and authenticate to an OCI registry.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConnectionArgs {
    /// Talk plain `http://` to an `oci://` registry (loopback or a closed
    /// network only: credentials then travel in clear text).
    #[arg(long)]
    pub plain_http: bool,
    /// PEM file of the private CA that signs the OCI registry's certificate
    /// (replaces the public roots).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Docker-style config.json to take the registry's credentials from
    /// [default: $DOCKER_CONFIG/config.json or ~/.docker/config.json, if it exists].
    #[arg(long, value_name = "FILE", conflicts_with_all = ["username", "token"])]
    pub docker_config: Option<PathBuf>,
    /// User name for the OCI registry; the password is read from stdin (--password-stdin).
    #[arg(long, requires = "password_stdin", conflicts_with = "token")]
    pub username: Option<String>,
    /// Read the password for --username from stdin (one line).
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
    /// A registry token, sent as `Authorization: Bearer` as it is.
    #[arg(long, env = "KOMP_OCI_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl ConnectionArgs {
    /// Whether any flag was given (they only apply to `oci://` references).
    pub fn any(&self) -> bool {
        self.plain_http
            || self.ca_file.is_some()
            || self.docker_config.is_some()
            || self.username.is_some()
            || self.token.is_some()
    }

    /// Client options for `registry` (`host[:port]`).
    pub fn options(&self, registry: &str) -> Result<ClientOptions> {
        let credentials = if let Some(token) = &self.token {
            Credentials::Bearer { token: token.clone() }
        } else if let Some(username) = &self.username {
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password).context("cannot read the password from stdin")?;
            let password = password.lines().next().unwrap_or("").to_string();
            anyhow::ensure!(!password.is_empty(), "--password-stdin: stdin held no password");
            Credentials::Basic { username: username.clone(), password }
        } else {
            docker_credentials(self.docker_config.as_deref(), registry)?
        };
        Ok(ClientOptions {
            credentials,
            plain_http: self.plain_http,
            ca_file: self.ca_file.clone(),
            ..ClientOptions::default()
        })
    }
}

/// Credentials for `registry` from `explicit` (which must exist), else from
/// the default docker config if there is one, else anonymous.
pub fn docker_credentials(explicit: Option<&Path>, registry: &str) -> Result<Credentials> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match Credentials::default_docker_config_path() {
            Some(p) if p.exists() => p,
            _ => return Ok(Credentials::Anonymous),
        },
    };
    Ok(Credentials::from_docker_config(&path, registry)?)
}

/// Whether `s` names an OCI reference rather than a komp registry release.
pub fn is_oci(s: &str) -> bool {
    s.starts_with("oci://")
}

fn parse_reference(s: &str) -> Result<Reference> {
    Ok(Reference::parse(s)?)
}

fn load_revocations(path: Option<&Path>, policy: &TrustPolicy) -> Result<RevocationList> {
    match path {
        Some(p) => {
            let signed = SignedRevocationList::load(p).with_context(|| format!("cannot read {}", p.display()))?;
            signed.verify(policy).with_context(|| format!("the revocation list {} is refused", p.display()))
        }
        None => Ok(RevocationList::empty()),
    }
}

/// `komp push FILE oci://HOST/REPO[:TAG]`.
pub fn push(
    file: &Path,
    target: &str,
    policy: Option<&Path>,
    revocations: Option<&Path>,
    conn: &ConnectionArgs,
    out: &mut dyn Write,
) -> Result<()> {
    let target = parse_reference(target)?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let verify = match policy {
        Some(p) => {
            let policy =
                TrustPolicy::load(p).with_context(|| format!("cannot load the trust policy {}", p.display()))?;
            let list = load_revocations(revocations, &policy)?;
            Some((policy, list))
        }
        None => None,
    };
    let client = OciClient::for_reference(&target, &conn.options(&target.registry)?)?;
    let pushed = komp_oci::push_component(&client, &bytes, &target, verify.as_ref().map(|(p, l)| (p, l)))
        .with_context(|| format!("cannot push {} to {target}", file.display()))?;
    writeln!(out, "pushed {} -> {}", file.display(), pushed.reference)?;
    writeln!(out, "  manifest: {}", pushed.manifest_digest)?;
    writeln!(out, "  layer:    {}", pushed.layer_digest)?;
    writeln!(out, "  pin with: {}@{}", without_tag(&pushed.reference), pushed.manifest_digest)?;
    Ok(())
}

fn without_tag(r: &Reference) -> String {
    format!("oci://{}/{}", r.registry, r.repository)
}

/// `komp push-revocations LIST oci://HOST/NAMESPACE`.
pub fn push_revocations(
    list: &Path,
    namespace: &str,
    policy: Option<&Path>,
    conn: &ConnectionArgs,
    out: &mut dyn Write,
) -> Result<()> {
    let namespace = parse_reference(namespace)?;
    anyhow::ensure!(
        namespace.tag.is_none() && namespace.digest.is_none(),
        "{namespace} names a namespace, without :tag or @digest (the list goes to NAMESPACE/{}:{})",
        komp_oci::REVOCATIONS_REPOSITORY,
        komp_oci::REVOCATIONS_TAG
    );
    let signed = SignedRevocationList::load(list).with_context(|| format!("cannot read {}", list.display()))?;
    if let Some(p) = policy {
        let policy = TrustPolicy::load(p).with_context(|| format!("cannot load the trust policy {}", p.display()))?;
        signed.verify(&policy).with_context(|| {
            format!("{} is not signed by an approver of {}; hosts would refuse it", list.display(), p.display())
        })?;
    }
    let client = OciClient::for_reference(&namespace, &conn.options(&namespace.registry)?)?;
    let pushed = komp_oci::push_revocations(&client, &signed, &namespace)
        .with_context(|| format!("cannot push {} to {namespace}", list.display()))?;
    let serial = signed.body_unverified().map(|b| b.serial).unwrap_or_default();
    writeln!(out, "pushed revocation list serial {serial} -> {} (also :serial-{serial})", pushed.reference)?;
    writeln!(out, "  manifest: {}", pushed.manifest_digest)?;
    Ok(())
}

/// `komp pull oci://HOST/REPO:TAG -o FILE --policy P [--revocations R]`:
/// the file is written only after it verified against the policy and the
/// newer of the given revocation list and the one the registry holds for the
/// repository's namespace (if an approver of the policy signed it).
pub fn pull(
    source: &str,
    output: &Path,
    policy: &Path,
    revocations: Option<&Path>,
    conn: &ConnectionArgs,
    out: &mut dyn Write,
) -> Result<()> {
    let source = parse_reference(source)?;
    let policy =
        TrustPolicy::load(policy).with_context(|| format!("cannot load the trust policy {}", policy.display()))?;
    let mut list = load_revocations(revocations, &policy)?;
    let client = OciClient::for_reference(&source, &conn.options(&source.registry)?)?;
    if let Some((ns, _)) = source.repository.rsplit_once('/') {
        let namespace = Reference { registry: source.registry.clone(), repository: ns.into(), tag: None, digest: None };
        match komp_oci::pull_revocations(&client, &namespace) {
            Ok(Some(signed)) => match signed.verify(&policy) {
                Ok(l) if l.serial > list.serial => list = l,
                Ok(_) => {}
                Err(e) => writeln!(out, "warning: ignoring the registry's revocation list: {e}")?,
            },
            Ok(None) => {}
            Err(e) => writeln!(out, "warning: cannot read the registry's revocation list: {e}")?,
        }
    }
    let v = komp_oci::pull_to_file(&client, &source, &policy, &list, output)
        .map_err(|e| anyhow!(e))
        .with_context(|| format!("cannot pull {source}"))?;
    writeln!(out, "pulled {}@{} -> {} (digest {}, verified)", v.name, v.version, output.display(), v.digest)?;
    Ok(())
}
