//! Ctrl-C, handled in one place. A command that can stop gracefully (load
//! flushes and writes its partial report) registers a stop flag: the first
//! Ctrl-C sets it. Otherwise, and on a second Ctrl-C, containers this
//! process started are removed and it exits 130 at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once, OnceLock};

/// The exit code of an interrupted run.
pub const INTERRUPTED: i32 = 130;

/// The flag of a command that stops gracefully on the first Ctrl-C.
static GRACEFUL: OnceLock<Arc<AtomicBool>> = OnceLock::new();

fn exit_now() -> ! {
    crate::bdd::world::kill_all_groups();
    crate::kafka::containers::remove_all();
    std::process::exit(INTERRUPTED);
}

/// Starts watching for Ctrl-C (once per process).
pub(super) fn watch() {
    static WATCHING: Once = Once::new();
    WATCHING.call_once(|| {
        std::thread::spawn(|| {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async {
                if tokio::signal::ctrl_c().await.is_err() {
                    return;
                }
                let Some(stop) = GRACEFUL.get() else { exit_now() };
                eprintln!("interrupted: flushing and writing the partial report (Ctrl-C again to quit now)");
                stop.store(true, Ordering::Relaxed);
                if tokio::signal::ctrl_c().await.is_ok() {
                    exit_now();
                }
            });
        });
    });
}

/// Sets `stop` on the first Ctrl-C instead of exiting; a second one exits.
pub(super) fn stop_gracefully(stop: Arc<AtomicBool>) {
    let _ = GRACEFUL.set(stop);
    watch();
}
