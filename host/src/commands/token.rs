//! `komp token create|list|revoke`: bearer tokens, stored as hashes in the data directory.

use anyhow::{bail, Result};
use clap::builder::TypedValueParser as _;
use clap::Subcommand;
use komp_server::auth::{Role, Tenant, TokenStore};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed once and stored only as a hash.
    Create {
        #[arg(long, env = "KOMP_DATA_DIR", default_value = "komp-data")]
        data_dir: PathBuf,
        /// Kommunekode of the municipality: four digits, e.g. 0751.
        #[arg(long)]
        tenant: Tenant,
        /// What the token may do.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(Role::ALL.map(Role::as_str)).map(|s| s.parse::<Role>().expect("one of the possible values")))]
        role: Role,
        /// Free text to remember what the token is for.
        #[arg(long, default_value = "")]
        note: String,
        /// Print only the token (for scripts).
        #[arg(long)]
        quiet: bool,
    },
    /// List tokens (ids, tenants, roles; never the tokens themselves).
    List {
        #[arg(long, env = "KOMP_DATA_DIR", default_value = "komp-data")]
        data_dir: PathBuf,
    },
    /// Revoke a token by id.
    Revoke {
        #[arg(long, env = "KOMP_DATA_DIR", default_value = "komp-data")]
        data_dir: PathBuf,
        id: String,
    },
}

/// Runs a [`TokenCommand`].
pub fn run(cmd: TokenCommand) -> Result<()> {
    match cmd {
        TokenCommand::Create { data_dir, tenant, role, note, quiet } => {
            let store = TokenStore::open(&data_dir)?;
            let (entry, token) = store.create(&tenant, role, &note)?;
            if quiet {
                println!("{token}");
            } else {
                println!("token id  {}\ntenant    {}\nrole      {:?}\ntoken     {token}\n(shown once; only its hash is stored)", entry.id, entry.tenant, entry.role);
            }
        }
        TokenCommand::List { data_dir } => {
            for t in TokenStore::open(&data_dir)?.list()? {
                println!(
                    "{}  tenant {}  {:<9}  created {}  {}",
                    t.id,
                    t.tenant,
                    format!("{:?}", t.role).to_lowercase(),
                    t.created,
                    t.note
                );
            }
        }
        TokenCommand::Revoke { data_dir, id } => {
            if !TokenStore::open(&data_dir)?.revoke(&id)? {
                bail!("no token with id {id}");
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}
