//! A tenant's Usage page (`/tenants/:id/usage?period=30d&model=&key=`):
//! spend and tokens per day stacked by model, requests and errors per hour
//! for the last 48 hours, the month budget's burn-down, a table under each
//! chart and the CSV of what is shown. The filters are a plain GET form, so
//! the URL is the state and the page works before the wasm loads.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::app::api::usage::usage_dashboard;
use crate::app::components::chart::{BurnDown, StackedBars};
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::ErrorBox;
use crate::domain::dashboard::TenantUsage;
use crate::domain::pricing::format_money;
use crate::domain::time::rfc3339;

fn dollars(v: f64) -> String {
    format_money(v.round() as i64)
}

fn count(v: f64) -> String {
    format!("{}", v.round() as i64)
}

fn day_label(ms: i64) -> String {
    rfc3339(ms).get(5..10).unwrap_or_default().to_string()
}

#[component]
pub fn UsagePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let q = move |k: &str| query.read().get(k).unwrap_or_default();
    let usage = Resource::new(
        move || {
            (
                params.read().get("id").unwrap_or_default(),
                q("period"),
                q("model"),
                q("key"),
            )
        },
        |(id, period, model, key)| usage_dashboard(id, period, model, key),
    );
    view! {
        <Title text="Usage"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match usage.await {
                    Ok(u) => view! { <Dashboard u/> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Dashboard(u: TenantUsage) -> impl IntoView {
    let csv = format!(
        "/tenants/{}/usage/download?period={}&model={}&key={}",
        u.tenant_id,
        u.span.as_str(),
        u.model.clone().unwrap_or_default(),
        u.key.clone().unwrap_or_default()
    );
    let total: i64 = u.days.iter().map(|d| d.cost()).sum();
    view! {
        <h1>{format!("Usage · {}", u.tenant_name)}</h1>
        <Filters u=u.clone()/>
        <p class="facts-line">{format!("{} spent in the last {}.", format_money(total), u.span.as_str())}
            " " <a href=csv download data-testid="usage-csv">"Download CSV"</a></p>
        <SpendChart u=u.clone()/>
        <TrafficChart u=u.clone()/>
        {u.burn.clone().map(|b| view! {
            <section class="card">
                <h2>"Month budget"</h2>
                <BurnDown title="Budget burn-down this month".into()
                    cumulative=b.cumulative.iter().map(|(_, v)| *v as f64).collect()
                    days_in_month=b.days_in_month as usize limit=b.limit_micros as f64
                    projected=b.projected_micros as f64 format=dollars/>
            </section>
        })}
    }
}

#[component]
fn Filters(u: TenantUsage) -> impl IntoView {
    let period = u.span.as_str();
    let model = u.model.clone().unwrap_or_default();
    let key = u.key.clone().unwrap_or_default();
    view! {
        <form method="get" class="filters inline">
            <label>"Period "
                <select name="period">
                    {["7d", "30d", "90d"].map(|p| view! { <option value=p selected=p == period>{p}</option> })}
                </select>
            </label>
            <label>"Model "
                <select name="model">
                    <option value="">"all"</option>
                    {u.models.iter().map(|m| view! { <option value=m.clone() selected=*m == model>{m.clone()}</option> }).collect_view()}
                </select>
            </label>
            <label>"API key "
                <select name="key">
                    <option value="">"all"</option>
                    {u.keys.iter().map(|(id, name)| view! { <option value=id.clone() selected=*id == key>{name.clone()}</option> }).collect_view()}
                </select>
            </label>
            <button type="submit">"Apply"</button>
        </form>
    }
}

const DAY_COLUMNS: [Column; 4] = [
    Column::plain("Day"),
    Column::plain("Model"),
    Column::plain("Tokens"),
    Column::plain("Spend"),
];

#[component]
fn SpendChart(u: TenantUsage) -> impl IntoView {
    let models: Vec<String> = {
        let mut m: Vec<String> = u
            .days
            .iter()
            .flat_map(|d| d.by_model.keys().cloned())
            .collect();
        m.sort();
        m.dedup();
        m
    };
    let series = |pick: fn(&(i64, i64)) -> i64| -> Vec<(String, Vec<f64>)> {
        models
            .iter()
            .map(|m| {
                (
                    m.clone(),
                    u.days
                        .iter()
                        .map(|d| d.by_model.get(m).map_or(0.0, |v| pick(v) as f64))
                        .collect(),
                )
            })
            .collect()
    };
    let labels: Vec<String> = u.days.iter().map(|d| day_label(d.day)).collect();
    let rows = u.days.iter().rev().flat_map(|d| d.by_model.iter().map(move |(m, (c, t))| view! {
        <tr><td>{day_label(d.day)}</td><td><code>{m.clone()}</code></td><td>{*t}</td><td>{format_money(*c)}</td></tr>
    }.into_any())).collect();
    view! {
        <section class="card">
            <h2>"Spend per day, by model"</h2>
            <StackedBars title="Spend per day, stacked by model".into() x_labels=labels.clone() series=series(|v| v.0) format=dollars/>
            <h2>"Tokens per day, by model"</h2>
            <StackedBars title="Tokens per day, stacked by model".into() x_labels=labels series=series(|v| v.1) format=count/>
            <DataTable columns=DAY_COLUMNS.to_vec() rows class="usage-days" empty="No usage in this period."/>
        </section>
    }
}

const HOUR_COLUMNS: [Column; 4] = [
    Column::plain("Hour (UTC)"),
    Column::plain("Requests"),
    Column::plain("Errors"),
    Column::plain("Error rate"),
];

#[component]
fn TrafficChart(u: TenantUsage) -> impl IntoView {
    let labels: Vec<String> = u
        .traffic
        .iter()
        .map(|t| {
            rfc3339(t.hour)
                .get(11..13)
                .map(|h| format!("{h}h"))
                .unwrap_or_default()
        })
        .collect();
    let ok: Vec<f64> = u
        .traffic
        .iter()
        .map(|t| (t.requests - t.errors).max(0) as f64)
        .collect();
    let errors: Vec<f64> = u.traffic.iter().map(|t| t.errors as f64).collect();
    let rows = u.traffic.iter().rev().filter(|t| t.requests > 0).map(|t| view! {
        <tr><td>{rfc3339(t.hour).get(..13).unwrap_or_default().replace('T', " ")}</td><td>{t.requests}</td><td>{t.errors}</td>
            <td>{format!("{:.1}%", t.error_rate() * 100.0)}</td></tr>
    }.into_any()).collect();
    view! {
        <section class="card">
            <h2>"Requests and errors per hour, last 48 hours"</h2>
            <StackedBars title="Requests per hour, errors on top".into() x_labels=labels
                series=vec![("answered".into(), ok), ("errors".into(), errors)] format=count/>
            <DataTable columns=HOUR_COLUMNS.to_vec() rows class="usage-hours" empty="No requests in the last 48 hours."/>
        </section>
    }
}
