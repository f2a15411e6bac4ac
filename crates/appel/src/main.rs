//! `appel`: run the server, explain outcome codes, browse and export the catalogue, try calls by
//! hand (`agent`) and load a local server (`bench`).

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use appel::agent::AgentSettings;
use appel::bench::{
    agents::AgentsSettings, calls::CallsSettings, echo::EchoSettings, media::MediaSettings,
    udp::UdpSettings,
};
use appel::catalog::{self, Coverage};
use appel::explain::{self, QueryError};
use appel_codes::{registry, CallingError, Entry, Locale, ResultCategory, Scope};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "appel",
    version,
    about = "Appel: a self-hostable calling platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: REST, WebSocket signaling, the call controller and call records.
    Serve(ServeCli),
    /// Explain an outcome: `appel explain 10004`, `487/10004`, `603`, or --code/--subcode.
    Explain(ExplainArgs),
    /// List the catalogue, or export and check its generated files.
    Codes(CodesArgs),
    /// A small interactive client: sign in, call, answer, and see every end reason explained.
    Agent(AgentArgs),
    /// Load a server on this machine (loopback only) and measure it.
    Bench(BenchArgs),
    /// Print a shell completion script: `appel completions bash > /etc/bash_completion.d/appel`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `appel man > appel.1 && man ./appel.1`.
    Man,
    /// The server's settings: `appel config example` prints a file with every key and default.
    Config(ConfigArgs),
    /// People who can call: create, name, list (with presence), delete. Needs the access key.
    Identities(IdentitiesArgs),
    /// User tokens: issue one for an identity (for an SDK or `appel agent`), or revoke them all.
    Token(TokenArgs),
    /// Why calls ended: `appel calls --identity bob --code 603`, `appel calls show ID`,
    /// `appel calls summary --since 24h`.
    Calls(CallsArgs),
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct CallsArgs {
    #[command(subcommand)]
    action: Option<CallsAction>,
    /// The server: http://host:port [default: the profile's, else http://127.0.0.1:8080].
    #[arg(long, global = true, env = "APPEL_SERVER")]
    server: Option<String>,
    /// The server's access key [default: the profile's, else ./appel-data/access-key].
    #[arg(long, global = true, env = "APPEL_ACCESS_KEY", hide_env_values = true)]
    access_key: Option<String>,
    /// Print the server's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    /// Only calls this identity took part in (caller, target or participant).
    #[arg(long)]
    identity: Option<String>,
    /// Only calls with a leg that ended so: `603` or `487/10004` (with --identity: that identity's leg).
    #[arg(long, value_parser = appel::calls::parse_code)]
    code: Option<(u16, Option<u32>)>,
    /// Only calls with a leg that ended in this category.
    #[arg(long, value_parser = parse_category)]
    category: Option<ResultCategory>,
    /// Only calls started since: a duration ago (1h, 24h, 7d) or an RFC 3339 time.
    #[arg(long)]
    since: Option<String>,
    /// How many calls, newest first (1–500).
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

#[derive(Subcommand)]
enum CallsAction {
    /// One call: each leg's reason explained with its advice, and the timeline.
    Show {
        /// The call id.
        id: String,
        /// Language of the explanations; default from the environment, else English.
        #[arg(long)]
        lang: Option<Lang>,
    },
    /// Leg ends by reason and by category, with their share and trend, over a window.
    Summary {
        /// The window: a duration ago (1h, 24h, 7d) or an RFC 3339 time.
        #[arg(long, default_value = "24h")]
        since: String,
        /// Slices of the window in the trend.
        #[arg(long, default_value_t = 12)]
        buckets: usize,
    },
}

#[derive(Args)]
struct ServeCli {
    #[command(flatten)]
    args: appel_server::ServeArgs,
    /// Log lines as text for people, or one JSON object per line for a log store (every line
    /// about a call has its `call_id`, and a leg's its `participant` and `identity`).
    #[arg(long, env = "APPEL_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Where the server is and its access key. Each falls back to the environment, then to a profile
/// file (APPEL_PROFILE, default ~/.config/appel/profile.toml: `server = "…"`, `access_key = "…"`),
/// then to a local `appel serve`'s defaults (http://127.0.0.1:8080 and ./appel-data/access-key).
#[derive(Args)]
struct ServerFlags {
    /// The server: http://host:port.
    #[arg(long, env = "APPEL_SERVER", global = true)]
    server: Option<String>,
    /// The server's access key.
    #[arg(long, env = "APPEL_ACCESS_KEY", global = true, hide_env_values = true)]
    access_key: Option<String>,
    /// Print JSON for scripts instead of text for people.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Args)]
struct IdentitiesArgs {
    #[command(flatten)]
    server: ServerFlags,
    #[command(subcommand)]
    action: IdentitiesAction,
}

#[derive(Subcommand)]
enum IdentitiesAction {
    /// Create an identity: `appel identities create --name Bob` prints its id.
    Create {
        /// Its display name (1–128 characters).
        #[arg(long)]
        name: Option<String>,
    },
    /// List identities by name, with presence (offline, online, inCall).
    List {
        /// Only names starting with this (case and accents ignored).
        #[arg(long)]
        name: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 200)]
        limit: usize,
    },
    /// Give an identity a new display name.
    Rename {
        /// The identity.
        id: String,
        /// The new name.
        #[arg(long)]
        name: String,
    },
    /// Delete an identity; its connections are closed with 401/10009.
    Delete {
        /// The identity.
        id: String,
    },
}

#[derive(Args)]
struct TokenArgs {
    #[command(flatten)]
    server: ServerFlags,
    #[command(subcommand)]
    action: TokenAction,
}

#[derive(Subcommand)]
enum TokenAction {
    /// Issue a user token: `TOKEN=$(appel token issue ID)`.
    Issue {
        /// The identity.
        id: String,
        /// Lifetime in minutes (60–1440; default: the server's tokens.default_lifetime).
        #[arg(long)]
        minutes: Option<u32>,
    },
    /// Revoke every token of an identity issued so far.
    Revoke {
        /// The identity.
        id: String,
    },
}

#[derive(Args)]
struct ConfigArgs {
    #[command(subcommand)]
    action: ConfigAction,
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Print a TOML file with every setting at its default, each explained.
    Example,
    /// Write docs/configuration.md from the settings table.
    Export {
        /// Repository root.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Write nothing; fail if the file is stale.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Args)]
struct AgentArgs {
    /// The server: http://host:port (or ws://…) [default: the profile's, else http://127.0.0.1:8080].
    #[arg(long, env = "APPEL_SERVER")]
    server: Option<String>,
    /// The identity to sign in as.
    #[arg(long)]
    identity: String,
    /// A user token of that identity.
    #[arg(long, env = "APPEL_TOKEN", conflicts_with = "access_key")]
    token: Option<String>,
    /// The server's access key, to issue a token for the identity [default: the profile's, else
    /// ./appel-data/access-key].
    #[arg(long, env = "APPEL_ACCESS_KEY", hide_env_values = true)]
    access_key: Option<String>,
    /// Answer every incoming call at once.
    #[arg(long)]
    auto_accept: bool,
    /// Call this identity once signed in.
    #[arg(long)]
    call: Option<String>,
    /// Language of the explanations; default from the environment, else English.
    #[arg(long)]
    lang: Option<Lang>,
}

#[derive(Args)]
struct BenchArgs {
    #[command(subcommand)]
    tool: BenchTool,
}

#[derive(Subcommand)]
enum BenchTool {
    /// Call cycles (start, ringing, accept, connected, hang-up) between SDK agents at a paced rate.
    Calls {
        /// The server: http://127.x:port.
        #[arg(long)]
        server: String,
        /// The server's access key.
        #[arg(long, env = "APPEL_ACCESS_KEY")]
        access_key: String,
        /// Pairs of agents (a caller and a callee each).
        #[arg(long, default_value_t = 100)]
        callers: usize,
        /// Cycle starts per second.
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        /// How long to start cycles: 10s, 1m…
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        duration: Duration,
        /// Most cycles in progress at once (default: --callers).
        #[arg(long)]
        concurrency: Option<usize>,
        /// Print one JSON object instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Many connected, idle agents: the server's memory per agent and the connect rate.
    Agents {
        /// The server: http://127.x:port.
        #[arg(long)]
        server: String,
        /// The server's access key.
        #[arg(long, env = "APPEL_ACCESS_KEY")]
        access_key: String,
        /// How many agents.
        #[arg(long)]
        count: usize,
        /// The server's process id (found from its listening socket otherwise).
        #[arg(long)]
        server_pid: Option<u32>,
        /// Print JSON instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Publishers and subscribers in group calls through the media server: forwarded packets/s,
    /// loss, the server's CPU per stream (streams per core) and memory per stream.
    Media {
        /// The server: http://127.x:port. Without it, one is started for the run.
        #[arg(long)]
        server: Option<String>,
        /// The server's access key (with --server).
        #[arg(long, env = "APPEL_ACCESS_KEY", hide_env_values = true)]
        access_key: Option<String>,
        /// The server's process id (found from its listening socket otherwise).
        #[arg(long)]
        server_pid: Option<u32>,
        /// Rooms (group calls).
        #[arg(long, default_value_t = 1)]
        rooms: usize,
        /// Publishers per room (audio and video each).
        #[arg(long, default_value_t = 2)]
        publishers: usize,
        /// Subscribers per room (publish nothing).
        #[arg(long, default_value_t = 4)]
        subscribers: usize,
        /// Time after every track arrives and before measuring.
        #[arg(long, default_value = "3s", value_parser = parse_duration)]
        warmup: Duration,
        /// How long to measure.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        duration: Duration,
        /// Each publisher's video bit rate, kbit/s (30 frames a second).
        #[arg(long, default_value_t = 500)]
        video_kbps: u32,
        /// Publishers send video only.
        #[arg(long)]
        no_audio: bool,
        /// Print one JSON object instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// The raw loopback UDP datagram rate and CPU per datagram (the media benchmark's baseline).
    Udp {
        /// Sender/receiver socket pairs.
        #[arg(long, default_value_t = 2)]
        pairs: usize,
        /// Bytes per datagram.
        #[arg(long, default_value_t = 1200)]
        size: usize,
        /// How long to measure.
        #[arg(long, default_value = "3s", value_parser = parse_duration)]
        duration: Duration,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The raw loopback WebSocket message rate against `ws-echo` (the baseline).
    Echo {
        /// ws://127.x:port of ws-echo.
        #[arg(long)]
        server: String,
        /// Connections.
        #[arg(long, default_value_t = 100)]
        connections: usize,
        /// Messages in flight per connection.
        #[arg(long, default_value_t = 4)]
        window: usize,
        /// How long to measure.
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        duration: Duration,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() && seconds >= 0.0 {
            return Ok(Duration::from_secs_f64(seconds));
        }
    }
    humantime::parse_duration(text).map_err(|e| format!("`{text}`: {e} (use 10s, 500ms, 2m)"))
}

#[derive(Args)]
struct ExplainArgs {
    /// A subcode (10004), a code (603), or a pair: code/subCode (487/10004) or subCode/code.
    #[arg(allow_hyphen_values = true, required_unless_present = "code")]
    query: Option<String>,
    /// The code, with or without --subcode.
    #[arg(long, conflicts_with = "query", allow_hyphen_values = true)]
    code: Option<String>,
    /// The subcode (needs --code).
    #[arg(long, requires = "code", allow_hyphen_values = true)]
    subcode: Option<String>,
    /// Language of the explanation; default from LC_ALL, LC_MESSAGES or LANG, else English.
    #[arg(long)]
    lang: Option<Lang>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct CodesArgs {
    #[command(subcommand)]
    action: Option<CodesAction>,
    /// Only entries of this scope.
    #[arg(long)]
    scope: Option<ScopeArg>,
    /// Only entries of this category (Success, ExpectedError, UnexpectedClientError, UnexpectedServerError).
    #[arg(long, value_parser = parse_category)]
    category: Option<ResultCategory>,
    /// Language of the messages in the table; default from the environment, else English.
    #[arg(long)]
    lang: Option<Lang>,
    /// Print the entries as the JSON array of catalog/codes.json.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum CodesAction {
    /// Write docs/codes.md, catalog/codes.json and catalog/codes.d.ts from the registry.
    Export {
        /// Repository root.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Write nothing; fail if a file is stale.
        #[arg(long)]
        check: bool,
    },
    /// Check catalog/coverage.json against the catalogue and the tests that exist.
    CheckCoverage {
        /// Repository root.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Output of `cargo test -- --list` for the whole workspace.
        #[arg(long)]
        test_list: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Lang {
    En,
    Fr,
}

#[derive(Clone, Copy, ValueEnum)]
enum ScopeArg {
    Sdk,
    CallEnd,
    CodeOnly,
}

fn parse_category(text: &str) -> Result<ResultCategory, String> {
    ResultCategory::parse(text).ok_or_else(|| {
        format!("unknown category `{text}`: use Success, ExpectedError, UnexpectedClientError or UnexpectedServerError")
    })
}

// jemalloc instead of the system allocator: under `appel bench calls` it cut the server's CPU per
// call cycle by a fifth (glibc's malloc_consolidate and free were 10 % of the profile). ws-echo uses
// the same allocator so the baseline stays comparable.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    // `appel serve --help` lists every setting with its default, from the table the server reads.
    let matches = Cli::command()
        .mut_subcommand("serve", |serve| {
            serve
                .after_help(
                    "`appel serve --help` lists every setting with its default and meaning.",
                )
                .after_long_help(appel_server::config_docs::help_text())
        })
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    match cli.command {
        Command::Serve(args) => run_serve(args),
        Command::Explain(args) => run_explain(args),
        Command::Codes(args) => run_codes(args),
        Command::Agent(args) => run_agent(args),
        Command::Bench(args) => run_bench(args),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "appel", &mut script);
            print_bytes("completions", &script)
        }
        Command::Config(args) => run_config(args),
        Command::Calls(args) => run_calls(args),
        Command::Identities(args) => run_admin("identities", args.server, |access, json| {
            Box::pin(async move {
                match args.action {
                    IdentitiesAction::Create { name } => {
                        appel::admin::create(&access, name.as_deref(), json).await
                    }
                    IdentitiesAction::List { name, limit } => {
                        appel::admin::list(&access, name.as_deref(), limit, json).await
                    }
                    IdentitiesAction::Rename { id, name } => {
                        appel::admin::rename(&access, &id, &name).await
                    }
                    IdentitiesAction::Delete { id } => appel::admin::delete(&access, &id).await,
                }
            })
        }),
        Command::Token(args) => run_admin("token", args.server, |access, json| {
            Box::pin(async move {
                match args.action {
                    TokenAction::Issue { id, minutes } => {
                        appel::admin::issue(&access, &id, minutes, json).await
                    }
                    TokenAction::Revoke { id } => appel::admin::revoke(&access, &id).await,
                }
            })
        }),
        Command::Man => {
            // Generated from the same definitions as `--help`, so the page cannot drift from it.
            let mut page = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut page) {
                Ok(()) => print_bytes("man", &page),
                Err(error) => {
                    eprintln!("appel man: {error}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

/// The work of an admin command, given the server access and `--json`: its text for stdout.
type AdminFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, CallingError>>>>;

/// Finds the server and key, runs `work`, prints its text, or the error with its advice (exit 1).
fn run_admin(
    command: &str,
    flags: ServerFlags,
    work: impl FnOnce(appel::access::ServerAccess, bool) -> AdminFuture,
) -> ExitCode {
    let locale = locale(None);
    let fail = |error: CallingError| {
        eprintln!("appel {command}: {}", error.describe(locale));
        eprintln!("{}", error.advice(locale));
        ExitCode::from(1)
    };
    let access = match appel::access::resolve(flags.server, flags.access_key, &|name| {
        std::env::var(name).ok()
    }) {
        Ok(access) => access,
        Err(error) => return fail(error),
    };
    let runtime = match runtime(command) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(work(access, flags.json)) {
        Ok(text) => print_bytes(command, format!("{text}\n").as_bytes()),
        Err(error) => fail(error),
    }
}

fn run_config(args: ConfigArgs) -> ExitCode {
    use appel_server::config_docs;
    match args.action {
        ConfigAction::Example => {
            print_bytes("config example", config_docs::example_toml().as_bytes())
        }
        ConfigAction::Export { root, check } => {
            let path = root.join("docs/configuration.md");
            let wanted = config_docs::markdown();
            if check {
                let current = std::fs::read_to_string(&path).unwrap_or_default();
                if current == wanted {
                    return ExitCode::SUCCESS;
                }
                eprintln!(
                    "appel config export: {} is stale; run `appel config export`",
                    path.display()
                );
                return ExitCode::from(1);
            }
            match std::fs::write(&path, wanted) {
                Ok(()) => {
                    println!("wrote {}", path.display());
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("appel config export: {}: {error}", path.display());
                    ExitCode::from(1)
                }
            }
        }
    }
}

/// Writes generated text to stdout. A reader that stops early (`| head`) is not an error.
fn print_bytes(command: &str, bytes: &[u8]) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("appel {command}: {error}");
            ExitCode::from(1)
        }
    }
}

fn runtime(command: &str) -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| {
            let error = CallingError::new(&registry::INTERNAL_SERVER_ERROR)
                .with_context("cannot start the async runtime")
                .with_raw_cause(error.to_string());
            eprintln!("appel {command}: {error}");
            ExitCode::from(1)
        })
}

fn run_agent(args: AgentArgs) -> ExitCode {
    let locale = locale(args.lang);
    // With a token, only the server is needed; without one, the key issues it (found as the admin
    // commands find it).
    let env = |name: &str| std::env::var(name).ok();
    let (server, access_key) = match &args.token {
        Some(_) => (
            args.server
                .unwrap_or_else(|| appel::access::DEFAULT_SERVER.to_string()),
            None,
        ),
        None => match appel::access::resolve(args.server, args.access_key, &env) {
            Ok(access) => (access.server, Some(access.access_key)),
            Err(error) => {
                eprintln!("appel agent: {}", error.describe(locale));
                eprintln!("{}", error.advice(locale));
                return ExitCode::from(1);
            }
        },
    };
    let settings = AgentSettings {
        server,
        identity: args.identity,
        token: args.token,
        access_key,
        auto_accept: args.auto_accept,
        call: args.call,
        locale,
    };
    let runtime = match runtime("agent") {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(appel::agent::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("appel agent: {}", error.describe(locale));
            eprintln!("{}", error.advice(locale));
            ExitCode::from(1)
        }
    }
}

/// `appel calls`: reads the server's call records over REST with the access key.
fn run_calls(args: CallsArgs) -> ExitCode {
    use appel::calls;
    let fail = |error: CallingError, locale: Locale| {
        eprintln!("appel calls: {}", error.describe(locale));
        eprintln!("{}", error.advice(locale));
        ExitCode::from(1)
    };
    let lang = match &args.action {
        Some(CallsAction::Show { lang, .. }) => *lang,
        _ => None,
    };
    let locale = locale(lang);
    // Found as `appel identities` finds them: flags, environment, profile, local server.
    let access =
        match appel::access::resolve(args.server.clone(), args.access_key.clone(), &|name| {
            std::env::var(name).ok()
        }) {
            Ok(access) => access,
            Err(error) => return fail(error, locale),
        };
    let client = match appel::rest::RestClient::new(&access.server, &access.access_key) {
        Ok(client) => client,
        Err(error) => return fail(error, locale),
    };
    let since = |text: &str| {
        calls::parse_since(text, std::time::SystemTime::now()).map_err(|e| {
            CallingError::new(&registry::INVALID_ARGUMENT).with_context(format!("--since {e}"))
        })
    };
    type Render = Box<dyn Fn(&serde_json::Value) -> String>;
    let (path, render): (String, Render) = match &args.action {
        None => {
            let since = match args.since.as_deref().map(since).transpose() {
                Ok(since) => since,
                Err(error) => return fail(error, locale),
            };
            let filter = calls::ListFilter {
                identity: args.identity.clone(),
                code: args.code,
                category: args.category,
                since,
                limit: Some(args.limit),
            };
            (calls::list_path(&filter), Box::new(calls::render_list))
        }
        Some(CallsAction::Show { id, .. }) => match calls::show_path(id) {
            Ok(path) => (path, Box::new(move |v| calls::render_show(v, locale))),
            Err(error) => return fail(error, locale),
        },
        Some(CallsAction::Summary {
            since: text,
            buckets,
        }) => match since(text) {
            Ok(at) => (
                calls::summary_path(at, *buckets),
                Box::new(calls::render_summary),
            ),
            Err(error) => return fail(error, locale),
        },
    };
    let runtime = match runtime("calls") {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(calls::fetch(&client, &path)) {
        Ok(value) => {
            if args.json {
                println!("{value:#}");
            } else {
                print!("{}", render(&value));
            }
            ExitCode::SUCCESS
        }
        Err(error) => fail(error, locale),
    }
}

fn run_bench(args: BenchArgs) -> ExitCode {
    let runtime = match runtime("bench") {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let outcome = runtime.block_on(async {
        match args.tool {
            BenchTool::Calls {
                server,
                access_key,
                callers,
                rate,
                duration,
                concurrency,
                json,
            } => {
                let report = appel::bench::calls::run(CallsSettings {
                    server,
                    access_key,
                    callers,
                    rate,
                    duration,
                    concurrency,
                    progress: progress && !json,
                })
                .await?;
                Ok(if json {
                    serde_json::to_string(&report).unwrap_or_default()
                } else {
                    report.table()
                })
            }
            BenchTool::Agents {
                server,
                access_key,
                count,
                server_pid,
                json,
            } => {
                let report = appel::bench::agents::run(AgentsSettings {
                    server,
                    access_key,
                    count,
                    server_pid,
                    progress: progress && !json,
                })
                .await?;
                Ok(if json {
                    serde_json::to_string(&report).unwrap_or_default()
                } else {
                    report.table()
                })
            }
            BenchTool::Media {
                server,
                access_key,
                server_pid,
                rooms,
                publishers,
                subscribers,
                warmup,
                duration,
                video_kbps,
                no_audio,
                json,
            } => {
                let report = appel::bench::media::run(MediaSettings {
                    // Without --server, the key from the environment is not the started server's.
                    access_key: server.as_ref().and(access_key),
                    server,
                    server_pid,
                    serve_binary: None,
                    rooms,
                    publishers,
                    subscribers,
                    warmup,
                    duration,
                    video_kbps,
                    audio: !no_audio,
                })
                .await?;
                Ok(if json {
                    serde_json::to_string(&report).unwrap_or_default()
                } else {
                    report.table()
                })
            }
            BenchTool::Udp {
                pairs,
                size,
                duration,
                json,
            } => {
                let report = appel::bench::udp::run(UdpSettings {
                    pairs,
                    size,
                    duration,
                })
                .await?;
                Ok(if json {
                    serde_json::to_string(&report).unwrap_or_default()
                } else {
                    report.table()
                })
            }
            BenchTool::Echo {
                server,
                connections,
                window,
                duration,
                json,
            } => {
                let report = appel::bench::echo::run(EchoSettings {
                    server,
                    connections,
                    window,
                    duration,
                })
                .await?;
                Ok(if json {
                    serde_json::to_string(&report).unwrap_or_default()
                } else {
                    format!(
                        "raw loopback rate      {:.0} messages/s ({} round trips in {:.2} s)\n",
                        report.messages_per_second, report.round_trips, report.elapsed
                    )
                })
            }
        }
    });
    // The runtime may still hold idle agents' sockets: end it without waiting for them.
    runtime.shutdown_background();
    match outcome {
        Ok(text) => {
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            let error: CallingError = error;
            eprintln!("appel bench: {}", error.describe(locale(None)));
            eprintln!("{}", error.advice(locale(None)));
            ExitCode::from(2)
        }
    }
}

fn run_serve(cli: ServeCli) -> ExitCode {
    let args = cli.args;
    // Logs go to stderr; RUST_LOG (e.g. `appel_server=debug`) overrides the default level.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        // Fields at the top level of each object, where log stores index them.
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let error = CallingError::new(&registry::INTERNAL_SERVER_ERROR)
                .with_context("cannot start the async runtime")
                .with_raw_cause(error.to_string());
            eprintln!("appel serve: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(appel_server::serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let locale = locale(None);
            eprintln!("appel serve: {}", error.describe(locale));
            eprintln!("{}", error.advice(locale));
            ExitCode::from(1)
        }
    }
}

fn locale(lang: Option<Lang>) -> Locale {
    let flag = lang.map(|l| match l {
        Lang::En => Locale::En,
        Lang::Fr => Locale::Fr,
    });
    appel::locale::choose(flag, |var| std::env::var(var).ok())
}

fn run_explain(args: ExplainArgs) -> ExitCode {
    let resolved = match (&args.query, &args.code) {
        (Some(query), _) => explain::resolve_query(query),
        (None, Some(code)) => parse_flag(code).and_then(|code| {
            let sub = args.subcode.as_deref().map(parse_flag).transpose()?;
            let text = match &args.subcode {
                Some(s) => format!("{code}/{s}"),
                None => code.to_string(),
            };
            explain::resolve_pair(code, sub, &text)
        }),
        (None, None) => unreachable!("clap requires a query or --code"),
    };
    match resolved {
        Ok(resolution) => {
            if args.json {
                println!("{}", explain::render_json(&resolution));
            } else {
                print!("{}", explain::render_text(&resolution, locale(args.lang)));
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            let status = match error {
                QueryError::UnknownSubcode(_) => 1,
                _ => 2,
            };
            let reported =
                CallingError::new(&registry::INVALID_ARGUMENT).with_context(error.to_string());
            eprintln!("appel explain: {}", reported.describe(locale(args.lang)));
            ExitCode::from(status)
        }
    }
}

fn parse_flag(text: &str) -> Result<u64, QueryError> {
    let trimmed = text.trim();
    if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(QueryError::Malformed(text.to_owned()));
    }
    trimmed
        .parse()
        .map_err(|_| QueryError::OutOfRange(text.to_owned()))
}

fn run_codes(args: CodesArgs) -> ExitCode {
    match args.action {
        Some(CodesAction::Export { root, check }) => export(root, check),
        Some(CodesAction::CheckCoverage { root, test_list }) => check_coverage(root, test_list),
        None => {
            let scope = args.scope.map(|s| match s {
                ScopeArg::Sdk => Scope::Sdk,
                ScopeArg::CallEnd => Scope::CallEnd,
                ScopeArg::CodeOnly => Scope::CodeOnly,
            });
            let entries: Vec<&Entry> = registry::all()
                .filter(|e| scope.is_none_or(|s| e.scope == s))
                .filter(|e| args.category.is_none_or(|c| e.category == c))
                .collect();
            if args.json {
                let text = serde_json::to_string_pretty(&entries).expect("entries serialize");
                println!("{text}");
            } else {
                print_table(&entries, locale(args.lang));
            }
            ExitCode::SUCCESS
        }
    }
}

fn print_table(entries: &[&Entry], locale: Locale) {
    println!(
        "{:>4} {:>7}  {:<36} {:<22} MESSAGE",
        "CODE", "SUBCODE", "NAME", "CATEGORY"
    );
    for entry in entries {
        let sub = entry
            .subcode
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into());
        println!(
            "{:>4} {:>7}  {:<36} {:<22} {}",
            entry.code.0,
            sub,
            entry.name,
            entry.category.as_str(),
            entry.message(locale)
        );
    }
    println!("{} entries", entries.len());
}

fn export(root: PathBuf, check: bool) -> ExitCode {
    let coverage = match Coverage::load(&root) {
        Ok(coverage) => coverage,
        Err(error) => {
            eprintln!("appel codes export: {error}");
            return ExitCode::from(2);
        }
    };
    if check {
        let stale = catalog::stale_artefacts(&root, &coverage);
        for path in &stale {
            eprintln!("stale: {} (run `appel codes export`)", path.display());
        }
        return if stale.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    for artefact in catalog::render_all(&coverage) {
        let path = root.join(artefact.path);
        if let Some(dir) = path.parent() {
            if let Err(error) = std::fs::create_dir_all(dir) {
                eprintln!(
                    "appel codes export: cannot create {}: {error}",
                    dir.display()
                );
                return ExitCode::from(1);
            }
        }
        if let Err(error) = std::fs::write(&path, artefact.content) {
            eprintln!(
                "appel codes export: cannot write {}: {error}",
                path.display()
            );
            return ExitCode::from(1);
        }
        println!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}

fn check_coverage(root: PathBuf, test_list: PathBuf) -> ExitCode {
    let coverage = match Coverage::load(&root) {
        Ok(coverage) => coverage,
        Err(error) => {
            eprintln!("appel codes check-coverage: {error}");
            return ExitCode::from(2);
        }
    };
    let tests: HashSet<String> = match std::fs::read_to_string(&test_list) {
        Ok(text) => catalog::parse_test_list(&text),
        Err(error) => {
            eprintln!(
                "appel codes check-coverage: cannot read {}: {error}",
                test_list.display()
            );
            return ExitCode::from(2);
        }
    };
    let problems = catalog::check_coverage(&coverage, &tests, &root);
    for problem in &problems {
        eprintln!("coverage: {problem}");
    }
    let proved = coverage
        .records
        .iter()
        .filter(|r| !r.tests.is_empty())
        .count();
    println!(
        "coverage: {} records, {proved} proved by a test, {} problems",
        coverage.records.len(),
        problems.len()
    );
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
