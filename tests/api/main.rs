//! The one integration test binary: the real server on port 0, driven over
//! HTTP and through the CLI, on SQLite and (when available) PostgreSQL.
//! A custom harness (libtest-mimic) so a test that cannot run here is
//! reported as ignored, never counted as passed.

#[path = "../common/mod.rs"]
#[macro_use]
mod common;

mod abuse;
mod abuse_adapters;
mod abuse_audio;
mod abuse_audit;
mod abuse_billing;
mod abuse_exposure;
mod abuse_flags;
mod abuse_leaving;
mod abuse_logprobs;
mod abuse_money;
mod abuse_pools;
mod abuse_server_tools;
mod abuse_stream;
mod abuse_stream_fields;
mod admin_api;
mod admin_evidence;
mod admin_resources;
mod admin_token_portal;
mod audit_batches;
mod audit_pseudonyms;
mod audit_search_bounds;
mod breaches;
mod budget_leases;
mod budget_media;
mod budget_property;
mod budget_rotation;
mod budget_webhooks;
mod budgets;
mod cli;
mod compliance;
mod compliance_cli;
mod compliance_portal;
mod crash;
mod custom_model_engines;
mod custom_model_limits;
mod custom_models;
mod dashboards;
mod data_map;
mod deployment_pages;
mod erasure_moves;
mod flag_insight;
mod flag_pages;
mod flags;
mod fleet;
mod gateway;
mod governance;
mod invoices;
mod isolation;
mod ledger_compliance;
mod litellm_compat;
mod lora;
mod meters;
mod plans;
mod pool_edits;
mod portal;
mod portal_abuse;
mod prices;
mod provider_faults;
mod replicas;
mod request_log;
mod serving;
mod shutdown;
mod soc2;
mod usage_export;

fn main() -> std::process::ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let trials: Vec<_> = [
        abuse::trials(),
        admin_api::trials(),
        admin_evidence::trials(),
        admin_resources::trials(),
        admin_token_portal::trials(),
        litellm_compat::trials(),
        abuse_adapters::trials(),
        abuse_audio::trials(),
        abuse_audit::trials(),
        audit_batches::trials(),
        audit_search_bounds::trials(),
        abuse_billing::trials(),
        abuse_exposure::trials(),
        abuse_flags::trials(),
        abuse_leaving::trials(),
        abuse_logprobs::trials(),
        abuse_money::trials(),
        abuse_pools::trials(),
        abuse_server_tools::trials(),
        abuse_stream::trials(),
        abuse_stream_fields::trials(),
        budget_leases::trials(),
        budget_rotation::trials(),
        budget_media::trials(),
        budget_property::trials(),
        budget_webhooks::trials(),
        audit_pseudonyms::trials(),
        breaches::trials(),
        budgets::trials(),
        cli::trials(),
        custom_models::trials(),
        custom_model_engines::trials(),
        custom_model_limits::trials(),
        dashboards::trials(),
        data_map::trials(),
        deployment_pages::trials(),
        flags::trials(),
        flag_insight::trials(),
        flag_pages::trials(),
        plans::trials(),
        pool_edits::trials(),
        prices::trials(),
        usage_export::trials(),
        gateway::trials(),
        governance::trials(),
        invoices::trials(),
        isolation::trials(),
        compliance::trials(),
        compliance_cli::trials(),
        compliance_portal::trials(),
        request_log::trials(),
        erasure_moves::trials(),
        provider_faults::trials(),
        ledger_compliance::trials(),
        meters::trials(),
        portal::trials(),
        replicas::trials(),
        replicas::startup_trials(),
        portal_abuse::trials(),
        shutdown::trials(),
        crash::trials(),
        fleet::trials(),
        soc2::trials(),
        serving::trials(),
    ]
    .into_iter()
    .flatten()
    .collect();
    libtest_mimic::run(&args, trials).exit_code()
}
