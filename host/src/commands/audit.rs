//! `komp audit verify|export`: offline operations on an audit log directory.

use std::path::PathBuf;

use anyhow::Context;

use komp_audit::{export_dir, ms_system_time, parse_rfc3339, verify_dir, Tenant};

/// Offline operations on an audit log directory (safe while a host is writing to it).
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AuditCommand {
    /// Recompute every hash and link; exit non-zero, naming the seq and file, if the chain breaks.
    Verify {
        /// The audit log directory.
        dir: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write one municipality's records as JSON Lines to stdout (oldest first, as stored).
    Export {
        /// The audit log directory.
        dir: PathBuf,
        /// Kommunekode (four digits).
        #[arg(long)]
        tenant: Tenant,
        /// Inclusive start, RFC 3339 or a date (2025-01-31).
        #[arg(long)]
        since: Option<String>,
        /// Exclusive end, RFC 3339 or a date.
        #[arg(long)]
        until: Option<String>,
    },
}

/// Runs an [`AuditCommand`].
pub fn run(cmd: AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::Verify { dir, json } => {
            let r = verify_dir(&dir).with_context(|| format!("verifying audit log {}", dir.display()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "audit log {}: OK, {} records in {} segments, seq {}..{}, last hash {}",
                    dir.display(),
                    r.records,
                    r.segments,
                    r.first_seq.map_or("-".into(), |s| s.to_string()),
                    r.last_seq.map_or("-".into(), |s| s.to_string()),
                    r.last_hash
                );
                if let Some(a) = &r.anchor {
                    println!("  starts at retention anchor seq {} (hash {})", a.seq, a.hash);
                }
                if r.torn_tail_bytes > 0 {
                    println!(
                        "  {} bytes of unterminated last line (crash or write in progress; never acknowledged)",
                        r.torn_tail_bytes
                    );
                }
            }
            Ok(())
        }
        AuditCommand::Export { dir, tenant, since, until } => {
            let since = since.map(|s| parse_rfc3339(&s)).transpose()?.map(ms_system_time);
            let until = until.map(|s| parse_rfc3339(&s)).transpose()?.map(ms_system_time);
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let n = export_dir(&dir, &tenant, since, until, &mut out)?;
            eprintln!("exported {n} records");
            Ok(())
        }
    }
}
