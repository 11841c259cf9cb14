//! Operator-facing output shared by the roles: progress, Prometheus metrics, shutdown signals.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use adapters::publish::Reporter;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar on a terminal, plain progress lines every few seconds otherwise.
pub fn progress_reporter() -> Box<dyn Reporter> {
    if std::io::stderr().is_terminal() {
        Box::new(Bar(Mutex::new(None)))
    } else {
        Box::new(Lines(Mutex::new(LinesState::default())))
    }
}

/// A counting progress bar on a terminal (hidden otherwise), for long CLI work.
pub fn progress_bar(total: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ETA {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

struct Bar(Mutex<Option<ProgressBar>>);

impl Reporter for Bar {
    fn start(&self, file: &str, rows: u64) {
        let bar = ProgressBar::new(rows);
        let style = ProgressStyle::with_template(
            "{msg:30!} [{bar:30}] {human_pos}/{human_len} rows {per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(file.to_owned());
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(bar);
        }
    }

    fn advance(&self, rows: u64) {
        if let Ok(slot) = self.0.lock()
            && let Some(bar) = slot.as_ref()
        {
            bar.inc(rows);
        }
    }

    fn finish(&self, _file: &str) {
        if let Ok(mut slot) = self.0.lock()
            && let Some(bar) = slot.take()
        {
            bar.finish();
        }
    }
}

#[derive(Default)]
struct LinesState {
    file: String,
    total: u64,
    done: u64,
    started: Option<Instant>,
    last: Option<Instant>,
}

struct Lines(Mutex<LinesState>);

impl Reporter for Lines {
    fn start(&self, file: &str, rows: u64) {
        if let Ok(mut state) = self.0.lock() {
            *state = LinesState {
                file: file.to_owned(),
                total: rows,
                started: Some(Instant::now()),
                last: Some(Instant::now()),
                ..LinesState::default()
            };
        }
    }

    fn advance(&self, rows: u64) {
        if let Ok(mut state) = self.0.lock() {
            state.done += rows;
            let now = Instant::now();
            if state
                .last
                .is_some_and(|last| now - last >= Duration::from_secs(5))
            {
                state.last = Some(now);
                let elapsed = state
                    .started
                    .map_or(1.0, |s| (now - s).as_secs_f64().max(0.001));
                stderr_line!(
                    "progress: {} {}/{} rows, {:.0} rows/s",
                    state.file,
                    state.done,
                    state.total,
                    state.done as f64 / elapsed
                );
            }
        }
    }

    fn finish(&self, file: &str) {
        if let Ok(state) = self.0.lock() {
            let elapsed = state.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
            stderr_line!("done: {file} {} rows in {elapsed:.1} s", state.done);
        }
    }
}

/// Installs the process's Prometheus recorder and keeps it bounded: histogram samples are
/// drained into their summaries every five seconds, scraped or not (without this upkeep they
/// pile up between scrapes, without limit when nobody scrapes). The heap gauges are refreshed
/// at the same pace. Needs the tokio runtime.
pub fn install_recorder() -> anyhow::Result<metrics_exporter_prometheus::PrometheusHandle> {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
            record_heap();
        }
    });
    Ok(handle)
}

/// Sets `cyberflag_heap_allocated_bytes` (the live heap: what a leak makes grow) and
/// `cyberflag_heap_resident_bytes` (pages the allocator holds in memory) from jemalloc's
/// statistics. Memory that C libraries (librdkafka) take from the system allocator is not in
/// either; the process's resident set size is.
fn record_heap() {
    #[cfg(target_os = "linux")]
    {
        use tikv_jemalloc_ctl::{epoch, stats};
        // The statistics are cached until the epoch advances.
        if epoch::advance().is_err() {
            return;
        }
        if let Ok(bytes) = stats::allocated::read() {
            metrics::gauge!("cyberflag_heap_allocated_bytes").set(bytes as f64);
        }
        if let Ok(bytes) = stats::resident::read() {
            metrics::gauge!("cyberflag_heap_resident_bytes").set(bytes as f64);
        }
    }
}

/// Serves Prometheus metrics (`/metrics`), a liveness probe (`/healthz`: the process serves)
/// and a readiness probe (`/readyz`: 200 when every dependency of the role answers, else 503,
/// one line per dependency) on `listen`; an empty address disables them. Binds before
/// returning, so a taken port fails at start-up.
pub fn serve_metrics(
    listen: cyberflag::config::Listen,
    readiness: crate::ready::Readiness,
) -> anyhow::Result<()> {
    let Some(address) = listen.address() else {
        return Ok(());
    };
    let handle = install_recorder()?;
    let listener = std::net::TcpListener::bind(address)
        .with_context(|| format!("serving metrics on {address} (metrics.listen)"))?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let router = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || {
                let body = handle.render();
                async move { body }
            }),
        )
        .route("/healthz", axum::routing::get(|| async { "ok\n" }))
        .route(
            "/readyz",
            axum::routing::get(move || {
                let answer = readiness_response(&readiness);
                async move { answer }
            }),
        );
    tokio::spawn(async move {
        if let Err(error) = crate::http::serve(listener, router, None, std::future::pending()).await
        {
            tracing::error!(%error, "the metrics endpoint stopped");
        }
    });
    tracing::info!(
        listen = %address,
        "metrics on /metrics, liveness on /healthz, readiness on /readyz"
    );
    Ok(())
}

/// `/readyz`: 200 and the report when ready, 503 and the report otherwise.
pub fn readiness_response(readiness: &crate::ready::Readiness) -> (axum::http::StatusCode, String) {
    let (ready, report) = readiness.report();
    let status = if ready {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, report)
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
