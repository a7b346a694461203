//! Where application callbacks run on smol (unless they run inline): a small executor of our
//! own whose threads may block.
//!
//! Each connection's callbacks are one task here, not one job per message: the task waits for
//! the connection's next event itself, and the connection's driver (on smol's executor) wakes it
//! by putting it back on this pool's queue. A message costs one queue push and, when no worker
//! is awake, one thread wake-up; a busy worker takes every task that became ready while it ran,
//! from all connections, without sleeping in between.
//!
//! Callbacks may block (4D code does: a query, a file, a lock). A blocked worker holds only the
//! task it is running: the others go on, and a watchdog adds a worker whenever a ready task has
//! waited [`STALL`] without any worker taking it, up to [`MAX_WORKERS`]. So the tasks behind a
//! callback that blocks wait about [`STALL`] for a new worker (one more per blocked worker),
//! while callbacks that return at once share as many workers as there are cores, instead of a
//! thread per connection with a message in flight. Workers idle for [`IDLE_EXIT`] end.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::Duration;

use async_task::{Runnable, Task};

/// How long a ready task may wait for a worker before the pool grows.
const STALL: Duration = Duration::from_millis(10);
/// Most worker threads; past it, ready tasks wait for a worker to come free.
const MAX_WORKERS: usize = 500;
/// A worker with nothing to do for this long ends.
const IDLE_EXIT: Duration = Duration::from_secs(10);
/// The workers' thread name; the watchdog's adds `-watchdog`.
const WORKER_NAME: &str = "ws-api-callbacks";

struct Pool {
    state: Mutex<State>,
    /// Idle workers wait here for tasks.
    work: Condvar,
    /// The watchdog waits here while there is nothing to watch.
    watch: Condvar,
    /// Workers started without waiting for a stall: one per core.
    eager: usize,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Runnable>,
    /// Tasks taken from the queue so far: the sequence number of the task at its front.
    taken: u64,
    workers: usize,
    /// Workers waiting on `work`, and how many of them were already notified (so a burst of
    /// tasks wakes each sleeping worker once, not once per task).
    sleeping: usize,
    notified: usize,
    /// The watchdog thread runs, and whether it is waiting on `watch` for work to appear.
    watchdog: bool,
    watchdog_waiting: bool,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(State::default()),
        work: Condvar::new(),
        watch: Condvar::new(),
        eager: thread::available_parallelism().map_or(1, |n| n.get()),
    })
}

/// Runs `future` on the pool; the returned task completes with it (dropping it cancels it).
pub(crate) fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // A panic is caught at the task and resumed where it is awaited, so it never ends a
    // worker (callbacks catch their own panics before that; see `dispatch::guard`).
    let (runnable, task) = async_task::Builder::new()
        .propagate_panic(true)
        .spawn(move |()| future, schedule);
    runnable.schedule();
    task
}

/// Runs `f` on the pool, for a callback that is not part of a connection's task.
pub(crate) fn unblock<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Task<T> {
    spawn(async move { f() })
}

fn schedule(runnable: Runnable) {
    let pool = pool();
    let mut state = pool.lock();
    state.queue.push_back(runnable);
    if state.sleeping > state.notified {
        state.notified += 1;
        pool.work.notify_one();
    } else if state.workers < pool.eager.min(MAX_WORKERS) {
        pool.start_worker(&mut state);
    }
    if !state.watchdog {
        state.watchdog = true;
        if thread::Builder::new()
            .name(format!("{WORKER_NAME}-watchdog"))
            .spawn(watchdog)
            .is_err()
        {
            state.watchdog = false;
        }
    } else if state.watchdog_waiting {
        state.watchdog_waiting = false;
        pool.watch.notify_one();
    }
    if state.workers == 0 {
        // No thread could be started at all: run the task here rather than lose it.
        let runnable = state.queue.pop_back();
        drop(state);
        if let Some(runnable) = runnable {
            runnable.run();
        }
    }
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing runs under this lock but queue bookkeeping, which cannot panic halfway.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn start_worker(&'static self, state: &mut State) {
        if thread::Builder::new()
            .name(WORKER_NAME.to_owned())
            .spawn(move || self.work_loop())
            .is_ok()
        {
            state.workers += 1;
        }
    }

    fn work_loop(&self) {
        let mut state = self.lock();
        loop {
            if let Some(runnable) = state.queue.pop_front() {
                state.taken += 1;
                drop(state);
                runnable.run();
                state = self.lock();
                continue;
            }
            state.sleeping += 1;
            let (woken, timeout) = self
                .work
                .wait_timeout(state, IDLE_EXIT)
                .unwrap_or_else(|p| p.into_inner());
            state = woken;
            state.sleeping -= 1;
            state.notified = state.notified.saturating_sub(1).min(state.sleeping);
            if timeout.timed_out() && state.queue.is_empty() {
                state.workers -= 1;
                return;
            }
            // Woken for new work: let the thread that woke us (the executor, handing over the
            // events of one read after another) run on first, so that this worker then takes
            // them all in one go instead of switching back and forth once per message where
            // both share a core. Where they do not, this returns at once.
            drop(state);
            thread::yield_now();
            state = self.lock();
        }
    }
}

/// Adds a worker whenever the task at the front of the queue has waited [`STALL`] without any
/// worker taking it: every worker is busy, some perhaps blocked in a callback.
fn watchdog() {
    let pool = pool();
    let mut state = pool.lock();
    loop {
        while state.queue.is_empty() {
            state.watchdog_waiting = true;
            state = pool.watch.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        let front = state.taken;
        drop(state);
        thread::sleep(STALL);
        state = pool.lock();
        let stalled = !state.queue.is_empty() && state.taken == front;
        if stalled && state.sleeping == state.notified && state.workers < MAX_WORKERS {
            pool.start_worker(&mut state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    #[test]
    fn runs_tasks_and_returns_their_output() {
        let tasks: Vec<_> = (0..100).map(|i| unblock(move || i * 2)).collect();
        let sum: usize = tasks.into_iter().map(futures_lite::future::block_on).sum();
        assert_eq!(sum, (0..100).map(|i| i * 2).sum::<usize>());
    }

    #[test]
    fn a_task_that_waits_is_woken_through_the_pool() {
        let (tx, rx) = async_channel::bounded::<u32>(1);
        let task = spawn(async move {
            let mut total = 0;
            while let Ok(n) = rx.recv().await {
                total += n;
            }
            total
        });
        for n in 1..=10 {
            futures_lite::future::block_on(tx.send(n)).unwrap();
        }
        drop(tx);
        assert_eq!(futures_lite::future::block_on(task), 55);
    }

    #[test]
    fn blocked_workers_do_not_stall_other_tasks() {
        // More blocking callbacks than cores: the watchdog adds workers, so a quick task still
        // runs long before they return.
        let blocked = Arc::new(AtomicUsize::new(0));
        let blockers: Vec<_> = (0..pool().eager + 2)
            .map(|_| {
                let blocked = Arc::clone(&blocked);
                unblock(move || {
                    blocked.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(Duration::from_secs(2));
                })
            })
            .collect();
        let start = Instant::now();
        while blocked.load(Ordering::SeqCst) < blockers.len() {
            assert!(
                start.elapsed() < Duration::from_secs(1),
                "blockers not started"
            );
            thread::sleep(Duration::from_millis(1));
        }
        let quick = Instant::now();
        futures_lite::future::block_on(unblock(|| ()));
        assert!(
            quick.elapsed() < Duration::from_millis(500),
            "{:?}",
            quick.elapsed()
        );
        blockers
            .into_iter()
            .for_each(futures_lite::future::block_on);
    }
}
