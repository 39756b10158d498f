//! State-changing operations run to their end whatever happens to their caller. hyper
//! drops a handler's future when its client goes away (ctrl-c, a client timeout), and
//! an operation stopped at one of its awaits would leave half of itself behind: a
//! mounted root, a network namespace, a task whose init waits forever, a record that
//! says `created` while a task exists. So the operation runs in a task of its own and
//! the caller only waits for it: if the caller goes, the operation still finishes (or
//! undoes itself where it fails), as dockerd's do.
use std::future::Future;

/// Runs `operation` in a task of its own and waits for its result; a panic in it is
/// the caller's panic.
pub async fn to_the_end<F>(operation: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match tokio::spawn(operation).await {
        Ok(out) => out,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            // Only a runtime shutting down cancels it; the caller goes with it.
            Err(e) => panic!("an operation was cancelled by the runtime: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn the_operation_finishes_when_its_caller_goes_away() {
        let done = Arc::new(AtomicBool::new(false));
        let (release, gate) = tokio::sync::oneshot::channel::<()>();
        let caller = tokio::spawn({
            let done = done.clone();
            to_the_end(async move {
                let _ = gate.await;
                done.store(true, Ordering::SeqCst);
            })
        });
        tokio::task::yield_now().await;
        caller.abort();
        let _ = caller.await;
        release.send(()).expect("the operation still waits");
        for _ in 0..100 {
            if done.load(Ordering::SeqCst) {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("the operation did not finish");
    }
}
