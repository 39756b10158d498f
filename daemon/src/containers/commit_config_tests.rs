use super::*;

#[test]
fn changes_apply_as_dockerd_does() {
    let mut config = go_config(&json!({
        "Env": ["PATH=/bin", "X=0"], "Cmd": ["true"], "Labels": {"a": "1"}, "WorkingDir": "/srv"
    }));
    apply_changes(
        &mut config,
        &[
            "CMD [\"sh\", \"-c\", \"echo hi\"]".into(),
            "ENV X=1 Y=\"two words\"".into(),
            "WORKDIR sub".into(),
            "EXPOSE 80 53/udp".into(),
            "LABEL b=2".into(),
            "VOLUME /data".into(),
            "ONBUILD RUN echo built".into(),
            "STOPSIGNAL SIGINT".into(),
            "HEALTHCHECK --interval=1m30s --retries=3 CMD curl -f http://x/".into(),
            "user app".into(),
        ],
    )
    .expect("valid");
    assert_eq!(config["Cmd"], json!(["sh", "-c", "echo hi"]));
    assert_eq!(config["Env"], json!(["PATH=/bin", "X=1", "Y=two words"]));
    assert_eq!(config["WorkingDir"], json!("/srv/sub"));
    assert_eq!(config["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
    assert_eq!(config["Labels"], json!({"a": "1", "b": "2"}));
    assert_eq!(config["Volumes"], json!({"/data": {}}));
    assert_eq!(config["OnBuild"], json!(["RUN echo built"]));
    assert_eq!(config["StopSignal"], json!("SIGINT"));
    assert_eq!(config["User"], json!("app"));
    assert_eq!(
        config["Healthcheck"],
        json!({"Test": ["CMD-SHELL", "curl -f http://x/"], "Interval": 90_000_000_000i64, "Retries": 3})
    );
}

#[test]
fn other_instructions_are_refused_with_dockerds_message() {
    let mut config = go_config(&json!({}));
    let err = apply_changes(&mut config, &["RUN true".into()]).expect_err("refused");
    assert_eq!(err.to_string(), "run is not a valid change command");
    assert!(apply_changes(&mut config, &["FROM x".into()]).is_err());
}

#[test]
fn entrypoint_clears_the_cmd_unless_cmd_was_given() {
    let mut config = go_config(&json!({"Cmd": ["old"]}));
    apply_changes(&mut config, &["ENTRYPOINT [\"/x\"]".into()]).expect("valid");
    assert_eq!(config["Cmd"], Value::Null);
    let mut config = go_config(&json!({"Cmd": ["old"]}));
    apply_changes(
        &mut config,
        &["CMD [\"a\"]".into(), "ENTRYPOINT [\"/x\"]".into()],
    )
    .expect("valid");
    assert_eq!(config["Cmd"], json!(["a"]));
}

#[test]
fn merge_fills_what_the_new_config_leaves_unset() {
    let container = go_config(&json!({
        "User": "app", "Env": ["A=1", "B=2"], "Cmd": ["run"], "Labels": {"l": "c"},
        "ExposedPorts": {"80/tcp": {}}
    }));
    let mut user = go_config(&json!({"Env": ["B=3"], "Labels": {"l": "u"}}));
    merge(&mut user, &container);
    assert_eq!(user["User"], json!("app"));
    assert_eq!(user["Env"], json!(["B=3", "A=1"]));
    assert_eq!(user["Cmd"], json!(["run"]));
    assert_eq!(user["Labels"], json!({"l": "u"}));
    assert_eq!(user["ExposedPorts"], json!({"80/tcp": {}}));
}
