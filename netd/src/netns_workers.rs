//! The threads that work inside network namespaces. Each job enters a namespace (or
//! makes one), does its work, and the thread goes back to the namespace it started in,
//! ready for the next job: creating and setting up a container's namespace starts no
//! thread. A thread start waits while any cgroup migration runs (a container's init
//! joining its cgroups, under cgroup v1), so starting a thread per job made container
//! starts wait on each other's.
//!
//! A thread that cannot go back home ends, and another takes its place: no thread is
//! ever left in a container's namespace for the next job. A job run from inside a job
//! gets a thread of its own (all workers could be busy waiting for it).

use std::cell::Cell;
use std::fs::File;
use std::os::fd::AsFd;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};

use nix::sched::{setns, CloneFlags};

use crate::error::{Error, Result};

/// How many threads wait for jobs: the jobs are short (a few syscalls), two at once
/// keep two CPUs busy.
const WORKERS: usize = 2;

type Job = Box<dyn FnOnce() + Send>;

struct Workers {
    queue: Mutex<Sender<Job>>,
    jobs: Arc<Mutex<Receiver<Job>>>,
    /// Threads serving `jobs`; one that could not go home has ended.
    alive: Arc<AtomicUsize>,
}

thread_local! {
    static IN_JOB: Cell<bool> = const { Cell::new(false) };
}

fn workers() -> &'static Workers {
    static WORKERS_ONCE: OnceLock<Workers> = OnceLock::new();
    WORKERS_ONCE.get_or_init(|| {
        let (queue, jobs) = mpsc::channel::<Job>();
        Workers {
            queue: Mutex::new(queue),
            jobs: Arc::new(Mutex::new(jobs)),
            alive: Arc::default(),
        }
    })
}

impl Workers {
    /// Starts the threads missing, from the caller's thread: one of berthd's, in its own
    /// namespace, which the new threads start in and return to.
    fn top_up(&self) -> Result<()> {
        // Each missing thread's place is taken before it starts: callers at once never
        // start more than `WORKERS` between them.
        let take_place = |n: usize| (n < WORKERS).then_some(n + 1);
        while self
            .alive
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, take_place)
            .is_ok()
        {
            if let Err(e) = self.start_one() {
                self.alive.fetch_sub(1, Ordering::AcqRel);
                return Err(e);
            }
        }
        Ok(())
    }

    fn start_one(&self) -> Result<()> {
        let home = File::open("/proc/thread-self/ns/net")
            .map_err(|e| Error::io("open /proc/thread-self/ns/net", e))?;
        let (jobs, alive) = (self.jobs.clone(), self.alive.clone());
        std::thread::Builder::new()
            .name("netd-netns".into())
            .spawn(move || serve(jobs, home, alive))
            .map(drop)
            .map_err(|e| Error::io("spawn namespace thread", e))
    }
}

fn serve(jobs: Arc<Mutex<Receiver<Job>>>, home: File, alive: Arc<AtomicUsize>) {
    IN_JOB.with(|j| j.set(true));
    loop {
        let next = jobs.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(job) = next else {
            break; // the queue is gone
        };
        // A panic is the job's answer (its result channel drops); the thread goes on.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
        if let Err(e) = setns(home.as_fd(), CloneFlags::CLONE_NEWNET) {
            tracing::warn!(error = %e, "a namespace thread cannot return home: it ends");
            break;
        }
    }
    // The next job's caller starts a thread in its place.
    alive.fetch_sub(1, Ordering::AcqRel);
}

/// Runs `job` on a namespace thread and returns its result. The job may enter any
/// network namespace: the thread returns to its own afterwards. Called from berthd's
/// threads (in its own namespace).
pub(crate) fn run<T, F>(job: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    if IN_JOB.with(|j| j.get()) {
        return std::thread::spawn(job)
            .join()
            .unwrap_or(Err(Error::ThreadPanicked));
    }
    let workers = workers();
    workers.top_up()?;
    let (answer, result) = mpsc::sync_channel(1);
    let queue = workers
        .queue
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    queue
        .send(Box::new(move || {
            let _ = answer.send(job());
        }))
        .map_err(|_| Error::ThreadPanicked)?;
    result.recv().unwrap_or(Err(Error::ThreadPanicked))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current_netns() -> std::path::PathBuf {
        std::fs::read_link("/proc/thread-self/ns/net").expect("readlink")
    }

    #[test]
    fn jobs_run_on_long_lived_threads_and_panics_are_answers() {
        let threads: std::collections::HashSet<_> = (0..20)
            .map(|_| run(|| Ok(std::thread::current().id())).expect("job"))
            .collect();
        assert!(threads.len() <= WORKERS, "no thread per job: {threads:?}");
        assert!(!threads.contains(&std::thread::current().id()));
        let panicked = run::<(), _>(|| panic!("a job's bug"));
        assert!(matches!(panicked, Err(Error::ThreadPanicked)));
        assert_eq!(run(|| Ok(7)).expect("after a panic"), 7);
        // A job inside a job gets a thread of its own instead of waiting for a worker.
        let nested = run(|| run(|| Ok(1)).map(|n| n + 1)).expect("nested");
        assert_eq!(nested, 2);
    }

    #[test]
    fn a_job_that_enters_another_namespace_leaves_its_thread_at_home() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipped: needs root to make a network namespace");
            return;
        }
        let home = current_netns();
        for _ in 0..(WORKERS * 2) {
            let inside = run(|| {
                nix::sched::unshare(CloneFlags::CLONE_NEWNET)
                    .map_err(|e| Error::io("unshare", std::io::Error::from(e)))?;
                Ok(current_netns())
            })
            .expect("unshare");
            assert_ne!(inside, home);
        }
        // Every worker ran one of those jobs; each is home again.
        for _ in 0..(WORKERS * 4) {
            assert_eq!(run(|| Ok(current_netns())).expect("job"), home);
        }
    }
}
