//! The rules of Go's `encoding/json` that dockerd's request decoding follows, on Docker's
//! own request types.
use std::collections::{BTreeMap, HashMap};

use bollard_stubs::models::{ContainerCreateBody, ExecConfig, HostConfig};
use serde::Deserialize;

use super::{equal_fold, from_slice_with, from_str, Rules};

#[test]
fn keys_match_fields_whatever_their_case() {
    let body: ContainerCreateBody = from_str(
        r#"{"image":"busybox","cmd":["echo","hi"],"HOSTCONFIG":{"binds":["/a:/b"],
            "restartPolicy":{"name":"on-failure","maximumRetryCount":3}}}"#,
    )
    .unwrap();
    assert_eq!(body.image.as_deref(), Some("busybox"));
    assert_eq!(body.cmd, Some(vec!["echo".to_string(), "hi".to_string()]));
    let hc = body.host_config.unwrap();
    assert_eq!(hc.binds, Some(vec!["/a:/b".to_string()]));
    let policy = hc.restart_policy.unwrap();
    assert_eq!(policy.maximum_retry_count, Some(3));
    assert_eq!(policy.name.unwrap().to_string(), "on-failure");
}

#[test]
fn exec_detach_keys_in_camel_case_are_read() {
    let config: ExecConfig =
        from_str(r#"{"detachKeys":"ctrl-p","cmd":["sh"],"tty":true}"#).unwrap();
    assert_eq!(config.detach_keys.as_deref(), Some("ctrl-p"));
    assert_eq!(config.tty, Some(true));
}

#[test]
fn map_keys_are_data_and_stay_as_sent() {
    let body: ContainerCreateBody = from_str(
        r#"{"Image":"x","labels":{"Com.Example":"A","com.example":"b"},
            "exposedports":{"80/TCP":{}},
            "networkingconfig":{"endpointsconfig":{"MyNet":{"aliases":["Web"],
                "ipamconfig":{"ipv4address":"10.0.0.5"}}}}}"#,
    )
    .unwrap();
    let labels = body.labels.unwrap();
    assert_eq!(labels["Com.Example"], "A");
    assert_eq!(labels["com.example"], "b");
    assert_eq!(body.exposed_ports, Some(vec!["80/TCP".to_string()]));
    let endpoints = body.networking_config.unwrap().endpoints_config.unwrap();
    let net = &endpoints["MyNet"];
    assert_eq!(net.aliases, Some(vec!["Web".to_string()]));
    assert_eq!(
        net.ipam_config.as_ref().unwrap().ipv4_address.as_deref(),
        Some("10.0.0.5")
    );
}

#[test]
fn an_exact_name_wins_over_a_folded_one() {
    #[derive(Deserialize)]
    struct Two {
        #[serde(rename = "ab")]
        lower: Option<i32>,
        #[serde(rename = "AB")]
        upper: Option<i32>,
    }
    let two: Two = from_str(r#"{"AB":1}"#).unwrap();
    assert_eq!((two.lower, two.upper), (None, Some(1)));
    // Neither exact: the first field in declaration order, as Go.
    let two: Two = from_str(r#"{"Ab":2}"#).unwrap();
    assert_eq!((two.lower, two.upper), (Some(2), None));
}

#[test]
fn duplicate_keys_decode_into_the_field_in_turn() {
    // Scalars and arrays: the last wins.
    let body: ContainerCreateBody =
        from_str(r#"{"Image":"a","image":"b","Cmd":["x"],"CMD":["y","z"]}"#).unwrap();
    assert_eq!(body.image.as_deref(), Some("b"));
    assert_eq!(body.cmd, Some(vec!["y".to_string(), "z".to_string()]));
    let body: ContainerCreateBody = from_str(r#"{"image":"b","Image":"a"}"#).unwrap();
    assert_eq!(body.image.as_deref(), Some("a"));
    // Objects merge: a struct keeps what the earlier key set.
    let body: ContainerCreateBody = from_str(
        r#"{"Image":"a","HostConfig":{"Memory":1,"CpuShares":5},"hostconfig":{"memory":2},
            "Labels":{"a":"1","b":"1"},"labels":{"b":"2"}}"#,
    )
    .unwrap();
    let hc = body.host_config.unwrap();
    assert_eq!((hc.memory, hc.cpu_shares), (Some(2), Some(5)));
    let labels = body.labels.unwrap();
    assert_eq!((labels["a"].as_str(), labels["b"].as_str()), ("1", "2"));
    // A later null clears a pointer-like field.
    let body: ContainerCreateBody = from_str(r#"{"Image":"a","Cmd":["x"],"cmd":null}"#).unwrap();
    assert_eq!(body.cmd, None);
}

#[test]
fn null_leaves_a_field_unset() {
    #[derive(Deserialize)]
    struct Connect {
        #[serde(rename = "Force", default)]
        force: bool,
        #[serde(rename = "Container", default)]
        container: String,
    }
    let c: Connect = from_str(r#"{"force":null,"container":"c1"}"#).unwrap();
    assert!(!c.force);
    assert_eq!(c.container, "c1");
}

#[test]
fn go_simple_folding() {
    assert!(equal_fold("HostConfig", "hostconfig"));
    assert!(equal_fold("Kind", "\u{212A}IND"));
    assert!(equal_fold("Shell", "\u{17F}hell"));
    assert!(!equal_fold("Id", "\u{131}d"));
    assert!(!equal_fold("Image", "Images"));
    assert!(!equal_fold("Image", "Imag"));
    assert!(equal_fold("\u{3A3}x", "\u{3C2}X"));
    let config: ExecConfig = from_str(r#"{"\u212Aey":1,"detach\u212Aeys":"ctrl-x"}"#).unwrap();
    assert_eq!(config.detach_keys.as_deref(), Some("ctrl-x"));
}

#[test]
fn maps_at_the_top_keep_their_keys() {
    let args: HashMap<String, Option<String>> =
        from_str(r#"{"HTTP_PROXY":"x","http_proxy":null}"#).unwrap();
    assert_eq!(args["HTTP_PROXY"].as_deref(), Some("x"));
    assert_eq!(args["http_proxy"], None);
    let labels: BTreeMap<String, String> = from_str(r#"{"A":"1","A":"2"}"#).unwrap();
    assert_eq!(labels["A"], "2");
}

#[test]
fn untyped_values_are_kept_as_sent() {
    let v: serde_json::Value =
        from_str(r#"{"cmd":["a"],"n":-3,"f":1.5,"t":true,"z":null}"#).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"cmd":["a"],"n":-3,"f":1.5,"t":true,"z":null})
    );
}

#[test]
fn bad_json_and_wrong_types_are_errors() {
    assert!(from_str::<ContainerCreateBody>(r#"{"Image":"a"} trailing"#).is_err());
    assert!(from_str::<ContainerCreateBody>(r#"{"Image":"#).is_err());
    assert!(from_str::<ContainerCreateBody>("").is_err());
    let e = from_str::<HostConfig>(r#"{"memory":"lots"}"#).unwrap_err();
    assert!(e.to_string().contains("invalid type"), "{e}");
    assert!(from_str::<HostConfig>(r#"{"restartpolicy":{"name":"bogus"}}"#).is_err());
    // Numbers stay exact.
    let hc: HostConfig = from_str(r#"{"memory":9007199254740993}"#).unwrap();
    assert_eq!(hc.memory, Some(9_007_199_254_740_993));
}

#[test]
fn externally_tagged_enums_decode() {
    #[derive(Deserialize, Debug, PartialEq)]
    enum Shape {
        Dot,
        Line(u32),
        Box {
            #[serde(rename = "Width")]
            width: u32,
        },
    }
    assert_eq!(from_str::<Shape>(r#""Dot""#).unwrap(), Shape::Dot);
    assert_eq!(from_str::<Shape>(r#"{"Line":3}"#).unwrap(), Shape::Line(3));
    assert_eq!(
        from_str::<Shape>(r#"{"Box":{"width":2}}"#).unwrap(),
        Shape::Box { width: 2 }
    );
}

#[test]
fn str_slice_fields_take_a_lone_string() {
    let rules = Rules {
        str_slices: &["Cmd", "Entrypoint", "CapAdd"],
    };
    let body: ContainerCreateBody = from_slice_with(
        br#"{"Image":"x","cmd":"date","Entrypoint":["/init"],"Env":["A=1"],
             "Labels":{"Cmd":"kept"},"HostConfig":{"capadd":"NET_ADMIN"}}"#,
        rules,
    )
    .unwrap();
    assert_eq!(body.cmd, Some(vec!["date".to_string()]));
    assert_eq!(body.entrypoint, Some(vec!["/init".to_string()]));
    assert_eq!(body.labels.unwrap()["Cmd"], "kept");
    assert_eq!(
        body.host_config.unwrap().cap_add,
        Some(vec!["NET_ADMIN".to_string()])
    );
    // Other list fields stay lists only, as in Go.
    assert!(from_slice_with::<ContainerCreateBody>(br#"{"Env":"A=1"}"#, rules).is_err());
    assert!(from_str::<ContainerCreateBody>(r#"{"Cmd":"date"}"#).is_err());
}
