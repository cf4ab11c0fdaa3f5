//! A replicated key-value store on synod-raft: three nodes over TCP on loopback, each
//! with a segmented, checksummed, fsynced log in its own directory.
//!
//! ```text
//! cargo run --example raft_kv -- demo [--tasks] [DATA_DIR]
//!     start 3 node processes, write, SIGKILL the leader, read every acknowledged
//!     write from the new leader, restart the killed node and watch it catch up
//! cargo run --example raft_kv -- serve --id 1 --dir data/n1 \
//!     [--raft 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003] \
//!     [--client 127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103] \
//!     [--tick-ms 10] [--election-ticks 15] [--snapshot-every 1000]
//! cargo run --example raft_kv -- client [--client ADDRS] put KEY VALUE
//! cargo run --example raft_kv -- client [--client ADDRS] get KEY
//! cargo run --example raft_kv -- client [--client ADDRS] append KEY VALUE
//! cargo run --example raft_kv -- client [--client ADDRS] status
//! ```
//!
//! Node `i` (from 1) listens at the `i`-th address of each list.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use synod_core::{NodeId, Ticks};
use synod_examples::kv::client::{KvClient, status};
use synod_examples::kv::demo::{DemoOptions, Launch, bind_retrying, run_demo};
use synod_examples::kv::server::{ServeOptions, serve};

const DEFAULT_RAFT: &str = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003";
const DEFAULT_CLIENT: &str = "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("demo") => demo(&args[1..]).await,
        Some("serve") => serve_command(&args[1..]).await,
        Some("client") => client_command(&args[1..]).await,
        _ => Err("usage: raft_kv demo|serve|client … (see the source's header)".into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("raft_kv: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `--name value` pairs and the remaining positional arguments.
fn parse(args: &[String]) -> (BTreeMap<String, String>, Vec<String>) {
    let mut flags = BTreeMap::new();
    let mut rest = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.strip_prefix("--") {
            Some("tasks") => {
                flags.insert("tasks".into(), String::new());
            }
            Some(name) => {
                flags.insert(name.into(), args.next().cloned().unwrap_or_default());
            }
            None => rest.push(arg.clone()),
        }
    }
    (flags, rest)
}

fn addresses(list: &str) -> Result<BTreeMap<NodeId, SocketAddr>, String> {
    list.split(',')
        .enumerate()
        .map(|(i, addr)| {
            let addr = addr
                .trim()
                .parse()
                .map_err(|e| format!("bad address {addr:?}: {e}"))?;
            Ok((NodeId(i as u64 + 1), addr))
        })
        .collect()
}

fn number(flags: &BTreeMap<String, String>, name: &str, default: u64) -> Result<u64, String> {
    flags.get(name).map_or(Ok(default), |v| {
        v.parse().map_err(|e| format!("--{name} {v:?}: {e}"))
    })
}

async fn demo(args: &[String]) -> Result<(), String> {
    let (flags, rest) = parse(args);
    let temporary;
    let data_dir = match rest.first() {
        Some(dir) => PathBuf::from(dir),
        None => {
            temporary = tempfile::Builder::new()
                .prefix("synod-raft-kv-")
                .tempdir()
                .map_err(|e| e.to_string())?;
            temporary.path().to_path_buf()
        }
    };
    let mut options = DemoOptions::new(&data_dir);
    options.verbose = true;
    if !flags.contains_key("tasks") {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        options.launch = Launch::Processes { exe };
    }
    let summary = run_demo(options)
        .await
        .map_err(|e| format!("demo FAILED: {e}"))?;
    println!();
    println!("summary:");
    println!(
        "  killed leader {} (term {}); new leader {} (term {})",
        summary.killed_leader.0,
        summary.killed_leader.1,
        summary.new_leader.0,
        summary.new_leader.1
    );
    println!(
        "  failover {} ms (kill to new leader); restarted node caught up in {} ms",
        summary.failover.as_millis(),
        summary.catch_up.as_millis()
    );
    println!(
        "  {} writes acknowledged before the crash, all read back; {} after",
        summary.acknowledged_before_crash, summary.acknowledged_after_crash
    );
    for (id, s) in &summary.final_status {
        println!(
            "  {id}: {:?} term {}, applied {}, snapshot {}, {} keys, digest {:08x}",
            s.role, s.term, s.applied, s.snapshot, s.keys, s.digest
        );
    }
    println!("every acknowledged write survived: OK");
    Ok(())
}

async fn serve_command(args: &[String]) -> Result<(), String> {
    let (flags, _) = parse(args);
    let id = NodeId(number(&flags, "id", 0)?);
    let raft = addresses(flags.get("raft").map_or(DEFAULT_RAFT, String::as_str))?;
    let client = addresses(flags.get("client").map_or(DEFAULT_CLIENT, String::as_str))?;
    let (Some(&raft_addr), Some(&client_addr)) = (raft.get(&id), client.get(&id)) else {
        return Err(format!("--id {id} is not in the address lists"));
    };
    let dir = flags.get("dir").map_or_else(
        || PathBuf::from(format!("data/n{}", id.get())),
        PathBuf::from,
    );
    let mut options = ServeOptions::new(id, raft, dir);
    options.tick = Duration::from_millis(number(&flags, "tick-ms", 10)?);
    options.election_ticks = Ticks(number(&flags, "election-ticks", 15)?);
    options.heartbeat_ticks = Ticks((options.election_ticks.get() / 5).max(1));
    options.snapshot_every = number(&flags, "snapshot-every", 1_000)?;
    options.verbose = true;
    let raft_listener = bind_retrying(raft_addr).await.map_err(|e| e.to_string())?;
    let client_listener = bind_retrying(client_addr)
        .await
        .map_err(|e| e.to_string())?;
    println!("{id}: raft on {raft_addr}, clients on {client_addr}");
    serve(options, raft_listener, client_listener)
        .await
        .map_err(|e| e.to_string())
}

async fn client_command(args: &[String]) -> Result<(), String> {
    let (flags, rest) = parse(args);
    let nodes = addresses(flags.get("client").map_or(DEFAULT_CLIENT, String::as_str))?;
    let words: Vec<&str> = rest.iter().map(String::as_str).collect();
    if words == ["status"] {
        for (id, addr) in &nodes {
            match status(*addr, Duration::from_millis(500)).await {
                Ok(s) => println!(
                    "{id}: {:?} term {} leader {:?} applied {} snapshot {} keys {} digest {:08x}",
                    s.role, s.term, s.leader, s.applied, s.snapshot, s.keys, s.digest
                ),
                Err(error) => println!("{id}: unreachable ({error})"),
            }
        }
        return Ok(());
    }
    let mut client = KvClient::new(nodes);
    client.register().await.map_err(|e| e.to_string())?;
    match words.as_slice() {
        ["put", key, value] => client.put(key, value).await.map(|()| println!("ok")),
        ["get", key] => client.get(key).await.map(|v| match v {
            Some(value) => println!("{value}"),
            None => println!("(absent)"),
        }),
        ["append", key, value] => client
            .append(key, value)
            .await
            .map(|len| println!("ok, now {len} bytes")),
        _ => return Err("client: put KEY VALUE | get KEY | append KEY VALUE | status".into()),
    }
    .map_err(|e| e.to_string())
}
