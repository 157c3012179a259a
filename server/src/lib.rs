//! The `kiln` binary's library: settings, the HTTP router and its handlers, background workers,
//! and start-up/shutdown. `main.rs` is only the command line.

#![recursion_limit = "256"]

pub mod api;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod routes;
pub mod secret;
pub mod settings;
pub mod state;
pub mod telemetry;

use anyhow::Context;
use kiln_auth::{Accounts, AuthConfig, Clock, LimitConfig, PasswordHasher};
use kiln_mail::{
    FileTransport, Mailer, SesTransport, SmtpSecurity, SmtpTransport, Transport, Worker,
};
use kiln_store::Db;
use settings::{MailTransport, Settings, SignupMode, SmtpTls};
use state::AppState;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Opens the configured database (creating the data directory) and applies migrations.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Db> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    let url = settings.database_url.as_ref().map(|s| s.expose());
    let db = Db::open(url, &settings.sqlite_path()).await.with_context(|| match url {
        Some(u) => format!("connecting to {}", kiln_store::redact_url(u)),
        None => format!("opening {}", settings.sqlite_path().display()),
    })?;
    db.migrate().await.context("applying database migrations")?;
    Ok(db)
}

/// The mail transport the settings ask for.
async fn mail_transport(settings: &Settings) -> anyhow::Result<Transport> {
    Ok(match settings.mail_transport {
        MailTransport::File => Transport::File(FileTransport::new(settings.outbox_dir())),
        MailTransport::Smtp => {
            let smtp = &settings.smtp;
            let host =
                smtp.host.as_deref().context("KILN_MAIL_TRANSPORT=smtp needs KILN_SMTP_HOST")?;
            let security = match smtp.tls {
                SmtpTls::Starttls => SmtpSecurity::StartTls,
                SmtpTls::Tls => SmtpSecurity::Tls,
                SmtpTls::None => SmtpSecurity::None,
            };
            let credentials = match (&smtp.username, &smtp.password) {
                (Some(u), Some(p)) => Some((u.clone(), p.expose().to_owned())),
                (None, None) => None,
                _ => {
                    anyhow::bail!("set both KILN_SMTP_USERNAME and KILN_SMTP_PASSWORD, or neither")
                }
            };
            Transport::Smtp(
                SmtpTransport::new(host, smtp.port, security, credentials)
                    .map_err(|e| anyhow::anyhow!("SMTP settings: {e}"))?,
            )
        }
        MailTransport::Ses => {
            Transport::Ses(SesTransport::new(settings.ses_endpoint.as_deref()).await)
        }
    })
}

/// Everything a running Kiln holds.
pub struct Kiln {
    pub state: AppState,
    pub mail_worker: Worker,
}

/// Builds the services for `settings`; `addr` is the address actually bound (for the default
/// public URL when the port was 0).
pub async fn build(settings: Settings, addr: SocketAddr, clock: Clock) -> anyhow::Result<Kiln> {
    let db = open_database(&settings).await?;
    let key = secret::load_or_create(
        settings.secret_key.as_ref().map(|s| s.expose()),
        &settings.data_dir,
    )?;
    let public_url = settings.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let mut auth = AuthConfig::new(public_url.clone());
    auth.signup_open = settings.signup == SignupMode::Open;

    let transport = mail_transport(&settings).await?;
    let mail_worker = Worker::new(db.clone(), transport, settings.mail_from.clone(), clock.clone())
        .with_retry_base(Duration::from_secs(settings.mail_retry_secs));
    let accounts = Accounts::new(
        db.clone(),
        auth,
        &key,
        PasswordHasher::owasp(),
        Arc::new(Mailer::new()),
        clock,
    )
    .with_mail_waker(mail_worker.waker())
    .with_limits(LimitConfig {
        per_ip_per_minute: settings.rate_limit_ip,
        per_account_per_hour: settings.rate_limit_account,
    });

    let leptos_options = leptos::config::LeptosOptions::builder()
        .output_name("kiln")
        .site_root(settings.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .env(leptos::config::Env::PROD)
        .build();
    let origin: Arc<str> = origin_of(&public_url).into();
    let sandbox = kiln_sandbox::Sandbox {
        toolchain: Some(settings.toolchain_dir.clone()),
        ..Default::default()
    };
    let data_dir =
        std::fs::canonicalize(&settings.data_dir).unwrap_or_else(|_| settings.data_dir.clone());
    let pipeline = kiln_pipeline::Pipeline::new(
        db.clone(),
        accounts.clock().clone(),
        sandbox,
        data_dir.clone(),
    )
    .with_limits(kiln_pipeline::Limits {
        max_apps: settings.max_apps,
        max_active_jobs: settings.max_active_jobs,
    })
    .with_lease(Duration::from_secs(settings.job_lease_secs))
    .with_llm(settings.llm.clone().map(kiln_llm::LlmPlanner::new));
    let runtime = kiln_runtime::Runtime::new(
        db.clone(),
        accounts.clock().clone(),
        kiln_runtime::Config {
            apps_domain: settings.apps_domain.clone(),
            postgres_url: match db.backend() {
                kiln_store::Backend::Postgres => {
                    settings.database_url.as_ref().map(|u| u.expose().to_owned())
                }
                kiln_store::Backend::Sqlite => None,
            },
            anonymous_writes_per_minute: settings.rate_limit_ip.max(1),
            chat: settings.apps_chat.clone().map(kiln_llm::LlmPlanner::new),
            // Beside Kiln's own tables: `app_<id>` next to `public`, `<schema>_app_<id>` when
            // Kiln itself lives in another schema (several instances on one database).
            schema_prefix: match db.current_schema().await? {
                Some(s) if s != "public" => format!("{s}_app_"),
                _ => "app_".to_owned(),
            },
            ..kiln_runtime::Config::local(data_dir, settings.apps_addr.port())
        },
    );
    // Apps' descriptions as shared documents; several processes on one Postgres relay them.
    let limits = kiln_collab::Limits {
        max_connections_per_user: settings.collab_connections_per_user,
        ..kiln_collab::Limits::default()
    };
    let collab = match kiln_collab::Relay::for_db(&db) {
        Some(relay) => {
            kiln_collab::Hub::with_relay(db.clone(), accounts.clock().clone(), limits, relay)
        }
        None => kiln_collab::Hub::new(db.clone(), accounts.clock().clone(), limits),
    };
    let pipeline = pipeline.with_runtime(runtime.clone()).with_collab(collab.clone()).with_mail(
        kiln_pipeline::Mail { mailer: Arc::new(Mailer::new()), portal_url: public_url.clone() },
    );
    let state = AppState {
        leptos_options,
        db,
        accounts,
        metrics: Arc::new(metrics::Metrics::new()),
        settings: Arc::new(settings),
        origin,
        pipeline,
        runtime,
        collab,
    };
    Ok(Kiln { state, mail_worker })
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> String {
    match url.find("://") {
        Some(i) => match url[i + 3..].find('/') {
            Some(j) => url[..i + 3 + j].to_owned(),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish (at most ~9 s), stops
/// the workers and closes the database.
pub async fn serve(
    listener: TcpListener,
    kiln: Kiln,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = tokio::spawn(kiln.mail_worker.clone().run(stop_rx.clone()));
    // Rate-limit state of clients that went quiet is dropped once a minute.
    let accounts = kiln.state.accounts.clone();
    let mut limits_stop = stop_rx.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(60)) => accounts.forget_idle_limits(),
                _ = limits_stop.changed() => return,
            }
        }
    });
    let db = kiln.state.db.clone();
    // Generated apps, each on its own origin, on a listener of their own.
    let apps_addr = kiln.state.settings.apps_addr;
    let apps_listener = TcpListener::bind(apps_addr)
        .await
        .with_context(|| format!("listening for generated apps on {apps_addr} (KILN_APPS_ADDR)"))?;
    let runtime = kiln.state.runtime.clone();
    runtime.set_port(apps_listener.local_addr()?.port());
    tracing::info!(example = %runtime.url_for("<slug>"), "generated apps are served on {}", apps_listener.local_addr()?);
    let mut apps_stop = stop_rx.clone();
    let apps_server = tokio::spawn(async move {
        axum::serve(
            apps_listener,
            runtime.router().into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = apps_stop.changed().await;
        })
        .await
    });
    // Before any worker claims a job: release the previous run's jobs, sweep what it left.
    match kiln.state.pipeline.recover_at_start().await {
        Ok((jobs, paths)) if jobs + paths > 0 => {
            tracing::info!(jobs, paths, "resumed interrupted jobs and removed leftovers")
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "start-up recovery failed"),
    }
    let workers = start_generation_workers(&kiln, &stop_rx);
    // Other processes' edits of shared descriptions (Postgres only; returns at once otherwise).
    let relay = tokio::spawn(kiln.state.collab.clone().listen());
    // Self-healing: at start, then every 15 s.
    let healer = tokio::spawn(
        kiln.state.pipeline.clone().heal_loop(Duration::from_secs(15), stop_rx.clone()),
    );
    let app = routes::router(kiln.state);

    let mut stopping = stop_rx.clone();
    // Responses are written in several chunks (streamed HTML); without TCP_NODELAY, Nagle's
    // algorithm holds the later chunks until the client's delayed ACK (~40 ms per request).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stop_tx.send(true);
        });
    let server = tokio::spawn(async move { server.await });
    // Wait for the signal, then give in-flight requests a bounded time.
    let _ = stopping.changed().await;
    match tokio::time::timeout(Duration::from_secs(8), server).await {
        Ok(joined) => joined.context("server task")?.context("serving HTTP")?,
        Err(_) => tracing::warn!("in-flight requests did not finish within 8 s; closing anyway"),
    }
    if tokio::time::timeout(Duration::from_secs(1), worker).await.is_err() {
        tracing::warn!("mail worker did not stop within 1 s");
    }
    if tokio::time::timeout(Duration::from_secs(1), apps_server).await.is_err() {
        tracing::warn!("generated apps' requests did not finish within 1 s");
    }
    // A generation in progress is not waited for: its lease runs out and a worker (here after a
    // restart, or on another machine) runs it again; its stages are idempotent.
    for w in workers {
        w.abort();
    }
    healer.abort();
    relay.abort();
    let _ = tokio::time::timeout(Duration::from_millis(500), db.close()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Starts the generation workers (and, when the JS toolchain is missing, its installation in the
/// background; jobs that reach the check stage wait for it).
fn start_generation_workers(
    kiln: &Kiln,
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let pipeline = &kiln.state.pipeline;
    if kiln.state.settings.workers > 0 {
        let _ = pipeline.toolchain().install_in_background();
    }
    (0..kiln.state.settings.workers)
        .map(|n| {
            let id = format!("{}-{n}", uuid::Uuid::new_v4());
            tokio::spawn(pipeline.clone().work(id, stop.clone()))
        })
        .collect()
}

/// `kiln worker`: generation workers (and the mail worker) without the web server, for more
/// machines on one Postgres database. Stops on `shutdown`.
pub async fn run_workers(
    kiln: Kiln,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mail = tokio::spawn(kiln.mail_worker.clone().run(stop_rx.clone()));
    let workers = start_generation_workers(&kiln, &stop_rx);
    tracing::info!(workers = workers.len(), "workers running");
    shutdown.await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(1), mail).await;
    for w in workers {
        w.abort();
    }
    let _ = tokio::time::timeout(Duration::from_millis(500), kiln.state.db.close()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[cfg(test)]
mod tests {
    #[test]
    fn origin_of_urls() {
        assert_eq!(super::origin_of("https://kiln.example.com/x/y"), "https://kiln.example.com");
        assert_eq!(super::origin_of("http://127.0.0.1:3000"), "http://127.0.0.1:3000");
    }
}
