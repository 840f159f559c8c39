//! Operations: the replicas serving this database (live or lapsed, with
//! or without Redis) and the replica running each periodic job. Read-only;
//! rendered on the server, so it works before the wasm loads.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::api::operations::fleet;
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::ErrorBox;
use crate::app::components::status::Badge;
use crate::domain::replica::{JobLease, Operations, Replica};
use crate::domain::time::{format_millis, format_opt};

const REPLICAS: [Column; 6] = [
    Column::plain("Replica"),
    Column::plain("Status"),
    Column::plain("Address"),
    Column::plain("Host"),
    Column::plain("Limits"),
    Column::plain("Last seen"),
];

const JOBS: [Column; 5] = [
    Column::plain("Job"),
    Column::plain("Running on"),
    Column::plain("Runs"),
    Column::plain("Last run"),
    Column::plain("Lease until"),
];

#[component]
pub fn OperationsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| fleet());
    view! {
        <Title text="Operations"/>
        <h1>"Operations"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(ops) => view! { <Fleet ops/> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Fleet(ops: Operations) -> impl IntoView {
    let live = ops.live();
    let replicas = ops
        .replicas
        .into_iter()
        .map(|r| view! { <ReplicaRow r/> }.into_any())
        .collect();
    let jobs = ops
        .jobs
        .into_iter()
        .map(|j| view! { <JobRow j/> }.into_any())
        .collect();
    let noun = if live == 1 { "replica" } else { "replicas" };
    view! {
        <section class="card" data-testid="replicas">
            <h2>{format!("{live} live {noun}")}</h2>
            <p class="muted">"Each replica renews its row every 5 s; one not seen for 15 s is shown as lapsed, and its jobs pass to another."</p>
            <DataTable columns=REPLICAS.to_vec() rows=replicas empty="No replica has registered."/>
        </section>
        <section class="card" data-testid="jobs">
            <h2>"Periodic jobs"</h2>
            <p class="muted">"Each job runs on one replica at a time, under a lease its holder renews every run."</p>
            <DataTable columns=JOBS.to_vec() rows=jobs empty="No job has run yet."/>
        </section>
    }
}

#[component]
fn ReplicaRow(r: Replica) -> impl IntoView {
    let status = if r.live { "live" } else { "lapsed" };
    let limits = if r.redis {
        "shared (Redis)"
    } else {
        "this replica's own"
    };
    view! {
        <tr>
            <td><code>{r.id}</code></td>
            <td><Badge text=status.to_string()/></td>
            <td>{r.addr}</td>
            <td>{r.host}</td>
            <td>{limits}</td>
            <td>{format_millis(r.seen_at)}</td>
        </tr>
    }
}

#[component]
fn JobRow(j: JobLease) -> impl IntoView {
    view! {
        <tr>
            <td><code>{j.name}</code></td>
            <td><code>{j.holder}</code></td>
            <td>{j.runs}</td>
            <td>{format_opt(j.last_run_at)}</td>
            <td>{format_millis(j.until_ms)}</td>
        </tr>
    }
}
