//! Issue 21, items 5 and 12, on both backends: a tenant's adapters come
//! from its own folder of the adapter roots, and the files in it cannot
//! lead out. Before, tenant A registered tenant B's adapter directory and
//! got `ready` (then deployed and queried B's fine-tune), different error
//! texts let A list B's folders, a symbolic link inside a folder read any
//! file, a FIFO blocked a worker, and engines got the path as typed.
//! Item 16: what vLLM refuses to load was `ready`.

use std::path::Path;
use std::time::Duration;

use atrium::domain::tenant::TenantId;
use atrium::server::services::{custom_models, tenants, Actor};
use serde_json::Value;

use crate::cli::atrium;
use crate::common::TestApp;
use crate::custom_models::{deploy, eventually, fixture_for, pool_of_three};

on_both_backends!(
    another_tenants_folder_is_refused_like_any_other_path,
    files_cannot_lead_out_of_the_folder,
    a_deploy_checks_the_files_again,
    a_hard_link_to_another_tenants_file_is_refused,
    a_folder_swapped_for_a_link_is_not_deployed,
    an_engine_reload_checks_the_files_again,
    what_vllm_refuses_is_never_ready,
    remote_adapters_only_under_the_tenants_prefixes,
);

async fn id_of(app: &TestApp, name: &str) -> TenantId {
    tenants::find(&app.svc, &Actor::system("test"), name)
        .await
        .expect("tenant")
        .id
}

/// `custom-model register` for `tenant`; the JSON on success, else stderr.
fn register(app: &TestApp, tenant: &str, name: &str, adapter: &str) -> Result<Value, String> {
    let out = atrium(
        app,
        &[
            "custom-model",
            "register",
            "--tenant",
            tenant,
            "--name",
            name,
            "--base-model",
            "tiny-llama",
            "--adapter",
            adapter,
            "--json",
        ],
        None,
    );
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("json"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

async fn another_tenants_folder_is_refused_like_any_other_path(app: TestApp) -> TestApp {
    let (_engines, _key) = pool_of_three(&app, 4).await;
    crate::gateway::tenant_with_key(&app, "Other Co", 1_000, "eu-west").await;
    crate::flags::cli(
        &app,
        &[
            "flag",
            "target",
            "models.custom",
            "--tenants",
            "Lora Co,Other Co",
        ],
    );
    let lora = id_of(&app, "Lora Co").await;
    let other = id_of(&app, "Other Co").await;
    let theirs = fixture_for(&lora);
    let mine = fixture_for(&other);
    // Lora Co's adapter, its folder, a missing path in it, the root, and
    // a missing path in Other Co's own folder: one refusal, word for word.
    let root = std::env::temp_dir().display().to_string();
    let missing_mine = format!(
        "{}/nothing-here",
        Path::new(&mine).parent().expect("home").display()
    );
    let probes = [
        theirs.clone(),
        Path::new(&theirs)
            .parent()
            .expect("home")
            .display()
            .to_string(),
        format!(
            "{}/nothing-here",
            Path::new(&theirs).parent().expect("home").display()
        ),
        root,
        missing_mine,
    ];
    let refusals: Vec<String> = probes
        .iter()
        .map(|p| register(&app, "Other Co", "probe", p).expect_err(p))
        .map(|e| e.replace(other.as_str(), "<id>"))
        .collect();
    assert!(
        refusals[0].contains("this tenant's folder"),
        "{}",
        refusals[0]
    );
    assert!(refusals.iter().all(|r| *r == refusals[0]), "{refusals:#?}");
    assert!(!refusals[0].contains(lora.as_str()), "{}", refusals[0]);
    let own = register(&app, "Other Co", "own", &mine).expect("its own folder");
    assert_eq!(own["status"], "ready", "{own}");
    app
}

async fn files_cannot_lead_out_of_the_folder(app: TestApp) -> TestApp {
    let (_engines, _key) = pool_of_three(&app, 4).await;
    let lora = id_of(&app, "Lora Co").await;
    let good = fixture_for(&lora);
    let home = Path::new(&good).parent().expect("home").to_path_buf();
    let copy = |dir: &Path| {
        std::fs::create_dir_all(dir).expect("dir");
        for f in ["adapter_config.json", "adapter_model.safetensors"] {
            let to = dir.join(f);
            let _ = std::fs::remove_file(&to);
            std::fs::copy(Path::new(&good).join(f), to).expect("copy");
        }
    };
    // A config that is a link to a file outside the folder.
    let linked = home.join("linked");
    copy(&linked);
    std::fs::remove_file(linked.join("adapter_config.json")).expect("rm");
    std::os::unix::fs::symlink("/etc/passwd", linked.join("adapter_config.json")).expect("link");
    let m = register(&app, "Lora Co", "linked", &linked.display().to_string()).expect("registered");
    assert_eq!(m["status"], "failed", "{m}");
    let reason = m["status_reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("symbolic link") && !reason.contains("root"),
        "{reason}"
    );
    // Weights that are a link to a file outside: the reason echoes nothing of it.
    let weights = home.join("weights");
    copy(&weights);
    let outside = tempfile::NamedTempFile::new().expect("outside");
    std::fs::write(outside.path(), b"SECRET!!and more").expect("write");
    std::fs::remove_file(weights.join("adapter_model.safetensors")).expect("rm");
    std::os::unix::fs::symlink(outside.path(), weights.join("adapter_model.safetensors"))
        .expect("link");
    let m =
        register(&app, "Lora Co", "weights", &weights.display().to_string()).expect("registered");
    assert_eq!(m["status"], "failed", "{m}");
    assert!(!m.to_string().contains("SECRET"), "{m}");
    // A FIFO fails at once instead of holding a worker.
    let fifo = home.join("fifo");
    copy(&fifo);
    std::fs::remove_file(fifo.join("adapter_config.json")).expect("rm");
    let made = std::process::Command::new("mkfifo")
        .arg(fifo.join("adapter_config.json"))
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let started = std::time::Instant::now();
    let m = register(&app, "Lora Co", "fifo", &fifo.display().to_string()).expect("registered");
    assert_eq!(m["status"], "failed", "{m}");
    assert!(
        m["status_reason"]
            .as_str()
            .unwrap_or("")
            .contains("not a regular file"),
        "{m}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // A link to a folder inside is followed once, and the real path kept:
    // the engines are sent what was checked.
    let alias = home.join("alias");
    let _ = std::fs::remove_file(&alias);
    std::os::unix::fs::symlink(&good, &alias).expect("link");
    let m = register(&app, "Lora Co", "aliased", &alias.display().to_string()).expect("registered");
    assert_eq!(m["status"], "ready", "{m}");
    let real = std::fs::canonicalize(&good).expect("real");
    assert_eq!(m["adapter"]["at"], real.display().to_string(), "{m}");
    app
}

async fn a_deploy_checks_the_files_again(app: TestApp) -> TestApp {
    let (_engines, _key) = pool_of_three(&app, 4).await;
    let lora = id_of(&app, "Lora Co").await;
    let good = fixture_for(&lora);
    let dir = Path::new(&good).parent().expect("home").join("changing");
    std::fs::create_dir_all(&dir).expect("dir");
    for f in ["adapter_config.json", "adapter_model.safetensors"] {
        std::fs::copy(Path::new(&good).join(f), dir.join(f)).expect("copy");
    }
    let m = register(&app, "Lora Co", "changing", &dir.display().to_string()).expect("registered");
    assert_eq!(m["status"], "ready", "{m}");
    let config = std::fs::read_to_string(dir.join("adapter_config.json")).expect("config");
    std::fs::write(
        dir.join("adapter_config.json"),
        config.replace("\"r\": 2", "\"r\": 999"),
    )
    .expect("write");
    let deployed =
        custom_models::lifecycle::deploy(&app.svc, &Actor::system("test"), &lora, "changing:1")
            .await;
    assert!(
        matches!(&deployed, Err(atrium::server::services::ServiceError::Conflict(m)) if m.contains("no longer passes")),
        "{deployed:?}"
    );
    app
}

/// A copy of the fixture in a new folder of `home`.
fn copy_into(good: &str, dir: &Path) {
    std::fs::create_dir_all(dir).expect("dir");
    for f in ["adapter_config.json", "adapter_model.safetensors"] {
        let to = dir.join(f);
        let _ = std::fs::remove_file(&to);
        std::fs::copy(Path::new(good).join(f), to).expect("copy");
    }
}

/// A hard link is another tenant's file under this tenant's name: the
/// engines would serve that tenant's weights as this one's.
async fn a_hard_link_to_another_tenants_file_is_refused(app: TestApp) -> TestApp {
    let (_engines, _key) = pool_of_three(&app, 4).await;
    crate::gateway::tenant_with_key(&app, "Other Co", 1_000, "eu-west").await;
    let lora = id_of(&app, "Lora Co").await;
    let theirs = fixture_for(&id_of(&app, "Other Co").await);
    let home = Path::new(&fixture_for(&lora))
        .parent()
        .expect("home")
        .to_path_buf();
    let linked = home.join("hard");
    copy_into(&theirs, &linked);
    let weights = linked.join("adapter_model.safetensors");
    std::fs::remove_file(&weights).expect("rm");
    std::fs::hard_link(
        Path::new(&theirs).join("adapter_model.safetensors"),
        &weights,
    )
    .expect("hard link");
    let m = register(&app, "Lora Co", "hard", &linked.display().to_string()).expect("registered");
    assert_eq!(m["status"], "failed", "{m}");
    assert!(
        m["status_reason"]
            .as_str()
            .unwrap_or("")
            .contains("hard link"),
        "{m}"
    );
    app
}

/// Registered at its real path, then the folder becomes a link (to a copy
/// inside the same home, so only the stored path gives it away): the
/// engines would be sent somewhere that was never checked.
async fn a_folder_swapped_for_a_link_is_not_deployed(app: TestApp) -> TestApp {
    let (_engines, _key) = pool_of_three(&app, 4).await;
    let lora = id_of(&app, "Lora Co").await;
    let good = fixture_for(&lora);
    let home = Path::new(&good).parent().expect("home").to_path_buf();
    let moving = home.join("moving");
    copy_into(&good, &moving);
    let m = register(&app, "Lora Co", "moving", &moving.display().to_string()).expect("registered");
    assert_eq!(m["status"], "ready", "{m}");
    std::fs::rename(&moving, home.join("moved")).expect("rename");
    std::os::unix::fs::symlink(home.join("moved"), &moving).expect("link");
    let deployed =
        custom_models::lifecycle::deploy(&app.svc, &Actor::system("test"), &lora, "moving:1").await;
    assert!(
        matches!(&deployed, Err(atrium::server::services::ServiceError::Conflict(m)) if m.contains("no longer where")),
        "{deployed:?}"
    );
    app
}

/// An engine that restarted reads the files long after the deploy: the
/// reconciler checks them again before it loads, so files changed since
/// (here a rank the pool cannot serve) are not loaded, and are once fixed.
async fn an_engine_reload_checks_the_files_again(app: TestApp) -> TestApp {
    let (mut engines, _key) = pool_of_three(&app, 4).await;
    let good = fixture_for(&id_of(&app, "Lora Co").await);
    let dir = Path::new(&good).parent().expect("home").join("reloaded");
    copy_into(&good, &dir);
    let m = register(&app, "Lora Co", "reloaded", &dir.display().to_string()).expect("registered");
    assert_eq!(m["status"], "ready", "{m}");
    let engine_name = deploy(&app, "reloaded");
    let config_path = dir.join("adapter_config.json");
    let config = std::fs::read_to_string(&config_path).expect("config");
    std::fs::write(&config_path, config.replace("\"r\": 2", "\"r\": 999")).expect("write");
    engines[0].restart().await;
    let refused = || {
        app.svc
            .pools
            .endpoints()
            .into_iter()
            .find(|e| e.provider == "lora-1")
            .and_then(|e| e.error)
            .is_some_and(|e| e.contains("no longer passes validation"))
    };
    eventually("the reload is refused", Duration::from_secs(10), || async {
        refused()
    })
    .await;
    assert!(engines[0].loaded().await.is_empty());
    std::fs::write(&config_path, config).expect("restore");
    eventually(
        "the fixed adapter is loaded",
        Duration::from_secs(10),
        || async { engines[0].loaded().await == [engine_name.clone()] },
    )
    .await;
    app
}

/// Before, these were `ready` and every engine then failed to load them.
async fn what_vllm_refuses_is_never_ready(app: TestApp) -> TestApp {
    let (_engines, _key) = pool_of_three(&app, 4).await;
    let good = fixture_for(&id_of(&app, "Lora Co").await);
    let home = Path::new(&good).parent().expect("home").to_path_buf();
    let config =
        std::fs::read_to_string(Path::new(&good).join("adapter_config.json")).expect("config");
    for (i, (from, to, named)) in [
        ("\"use_rslora\": false", "\"use_dora\": true", "use_dora"),
        ("\"bias\": \"none\"", "\"bias\": \"all\"", "bias"),
        (
            "\"modules_to_save\": null",
            "\"modules_to_save\": [\"lm_head\"]",
            "modules_to_save",
        ),
        ("\"r\": 2", "\"r\": 0", "r (the rank)"),
        (
            "\"rank_pattern\": {}",
            "\"rank_pattern\": {\"q_proj\": 128}",
            "rank_pattern",
        ),
        ("\"lora_alpha\": 16,", "", "lora_alpha"),
    ]
    .into_iter()
    .enumerate()
    {
        let dir = home.join(format!("vllm-refuses-{i}"));
        copy_into(&good, &dir);
        assert!(config.contains(from), "the fixture changed: {from}");
        std::fs::write(dir.join("adapter_config.json"), config.replace(from, to)).expect("write");
        let name = format!("refused-{i}");
        let m = register(&app, "Lora Co", &name, &dir.display().to_string()).expect("registered");
        assert_eq!(m["status"], "failed", "{to}: {m}");
        let reason = m["status_reason"].as_str().unwrap_or("");
        assert!(reason.contains(named), "{to}: {reason}");
    }
    app
}

/// Before, any `https://` or `s3://` address passed to the engines.
async fn remote_adapters_only_under_the_tenants_prefixes(app: TestApp) -> TestApp {
    let (_engines, _key) = pool_of_three(&app, 4).await;
    let lora = id_of(&app, "Lora Co").await;
    let new = |adapter: &str| custom_models::NewCustomModel {
        tenant_id: lora.clone(),
        name: "remote".into(),
        base_model: "tiny-llama".into(),
        adapter: adapter.into(),
        version: None,
        fine_tune_config: None,
        training: false,
        input_per_mtok: None,
        output_per_mtok: None,
        markup_percent: None,
        hosting_fee_micros: 0,
    };
    let system = Actor::system("test");
    for uri in ["https://evil.example/adapter", "s3://any-bucket/adapter"] {
        let r = custom_models::register(&app.svc, &system, new(uri)).await;
        assert!(
            matches!(r, Err(atrium::server::services::ServiceError::Invalid(_))),
            "{uri}: {r:?}"
        );
    }
    // With the operator's prefix for each tenant's own place.
    let mut config = (*app.svc.config).clone();
    config.adapter_remote_prefixes = vec!["s3://adapters/{tenant}/".into()];
    let db = atrium::server::db::Db::connect(&app.db_url)
        .await
        .expect("pool");
    let svc = atrium::server::services::Services::new(db, config, app.svc.secrets.clone());
    let mine = format!("s3://adapters/{lora}/support-bot");
    let m = custom_models::register(&svc, &system, new(&mine))
        .await
        .expect("its own prefix");
    assert_eq!(m.status.as_str(), "ready");
    let theirs =
        custom_models::register(&svc, &system, new("s3://adapters/someone-else/bot")).await;
    assert!(theirs.is_err(), "{theirs:?}");
    app
}
