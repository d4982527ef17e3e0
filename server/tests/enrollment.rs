//! Enrollment: codes, idempotent retries, and the signed team configuration.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use safehome_core::evidence::keys::Identity;
use safehome_core::sync::protocol::TeamConfig;
use safehome_server::Role;

#[test]
fn a_volunteer_enrolls_and_gets_the_signed_team_configuration() {
    let server = TestServer::start();
    let phone = Phone::new(&server.url(), 1);
    let res = phone.enroll(&server.code(Role::Volunteer), None);
    assert_eq!(res.status, 200, "{}", res.text());
    let config = verify_config(&res, &server.public);
    assert_eq!(config.team, TEAM);
    assert_eq!(config.communes, ["19001", "19002"]);
    assert_eq!(config.device_id, phone.device_id);
    assert_eq!(config.role, "volunteer");
    assert_eq!(config.recipients.len(), 1);
    assert_eq!(config.recipients[0].kind, "archive");
    assert_eq!(config.recipients[0].public_key, archive().recipient().to_string());
    // Afterwards the device is known: GET /v1/config answers the same team, signed.
    let res = phone.send("GET", "/v1/config", b"", &[]);
    assert_eq!(res.status, 200, "{}", res.text());
    let again = TeamConfig::verify(&res.json(), &server.public).unwrap();
    assert_eq!(again.team, TEAM);
}

#[test]
fn a_code_is_accepted_in_any_case_without_dashes_and_with_look_alike_letters() {
    let server = TestServer::start();
    let code = server.code(Role::Volunteer);
    let loose = code.replace('-', " ").to_lowercase().replace('0', "o").replace('1', "l");
    let res = Phone::new(&server.url(), 1).enroll(&loose, None);
    assert_eq!(res.status, 200, "{}", res.text());
}

#[test]
fn a_retry_with_the_same_code_device_and_key_gets_the_configuration_again() {
    let server = TestServer::start();
    let phone = Phone::new(&server.url(), 1);
    let code = server.code(Role::Volunteer);
    let first = phone.enroll(&code, None);
    assert_eq!(first.status, 200);
    let second = phone.enroll(&code, None);
    assert_eq!(second.status, 200, "{}", second.text());
    assert_eq!(verify_config(&second, &server.public).device_id, phone.device_id);
}

#[test]
fn a_used_code_is_refused_to_another_device() {
    let server = TestServer::start();
    let code = server.code(Role::Volunteer);
    assert_eq!(Phone::new(&server.url(), 1).enroll(&code, None).status, 200);
    let res = Phone::new(&server.url(), 2).enroll(&code, None);
    assert_eq!((res.status, res.code().as_str()), (410, "enrollment_code_used"));
}

#[test]
fn an_expired_code_and_an_unknown_code_are_refused() {
    let server = TestServer::start();
    let two_days_ago = now_ms() - 2 * 86_400_000;
    let expired = server
        .admin()
        .create_enrollment_code(TEAM, Role::Volunteer, 86_400_000, two_days_ago)
        .unwrap()
        .code;
    let phone = Phone::new(&server.url(), 1);
    let res = phone.enroll(&expired, None);
    assert_eq!((res.status, res.code().as_str()), (410, "enrollment_code_expired"));
    let res = phone.enroll("0000-0000-0000", None);
    assert_eq!((res.status, res.code().as_str()), (404, "enrollment_code_unknown"));
    let res = phone.enroll("not a code", None);
    assert_eq!((res.status, res.code().as_str()), (404, "enrollment_code_unknown"));
}

#[test]
fn a_device_id_enrolled_with_another_key_is_a_conflict() {
    let server = TestServer::start();
    let first = server.volunteer(1);
    let mut imposter = Phone::new(&server.url(), 2);
    imposter.device_id = first.device_id.clone();
    let res = imposter.enroll(&server.code(Role::Volunteer), None);
    assert_eq!((res.status, res.code().as_str()), (409, "device_conflict"));
}

#[test]
fn enrollment_must_be_signed_by_the_key_it_enrolls() {
    let server = TestServer::start();
    let phone = Phone::new(&server.url(), 1);
    let body = phone.enroll_request(&server.code(Role::Volunteer), None);
    let other = Phone::new(&server.url(), 2);
    // Signed by another key under the same device id.
    let mut auth = other.auth("POST", "/v1/enroll", &body);
    auth.device_id = phone.device_id.clone();
    let res =
        phone.send_as(&auth, "POST", "/v1/enroll", &body, &[("Content-Type", "application/json")]);
    assert_eq!((res.status, res.code().as_str()), (401, "bad_signature"));
}

#[test]
fn a_supervisor_brings_a_recipient_key_that_joins_the_team_until_revoked() {
    let server = TestServer::start();
    let supervisor = Phone::new(&server.url(), 3);
    let recipient = Identity::from_bytes([33; 32]).recipient();
    let code = server.code(Role::Supervisor);
    // Without its recipient key a supervisor's enrollment is refused, and the code stays open.
    let res = supervisor.enroll(&code, None);
    assert_eq!((res.status, res.code().as_str()), (400, "bad_request"));
    let res = supervisor.enroll(&code, Some(&recipient));
    assert_eq!(res.status, 200, "{}", res.text());
    let config = verify_config(&res, &server.public);
    assert_eq!(config.role, "supervisor");
    let kinds: Vec<_> = config.recipients.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["archive", "supervisor"]);
    assert_eq!(config.recipients[1].public_key, recipient.to_string());

    // A volunteer enrolled later sees the supervisor among its recipients.
    let volunteer = server.volunteer(4);
    let res = volunteer.send("GET", "/v1/config", b"", &[]);
    let config = TeamConfig::verify(&res.json(), &server.public).unwrap();
    assert_eq!(config.recipients.len(), 2);

    // Revoking the supervisor's device removes its key from the configuration.
    server.admin().revoke(&supervisor.device_id, now_ms()).unwrap();
    let res = volunteer.send("GET", "/v1/config", b"", &[]);
    let config = TeamConfig::verify(&res.json(), &server.public).unwrap();
    assert_eq!(config.recipients.len(), 1);
    assert_eq!(config.recipients[0].kind, "archive");
}

#[test]
fn a_volunteers_key_is_its_inbox_and_never_a_team_recipient() {
    let server = TestServer::start();
    let inbox = Identity::from_bytes([33; 32]).recipient();
    let phone = Phone::new(&server.url(), 1);
    let res = phone.enroll(&server.code(Role::Volunteer), Some(&inbox));
    assert_eq!(res.status, 200, "{}", res.text());
    let config = verify_config(&res, &server.public);
    // Submissions are not sealed to a volunteer...
    assert_eq!(config.recipients.len(), 1);
    assert_eq!(config.recipients[0].kind, "archive");
    // ...but the team's devices list it, so a supervisor can seal a decision to it.
    let me = config.device(&phone.device_id).expect("listed");
    assert_eq!(me.role, "volunteer");
    assert_eq!(me.public_key, phone.key.public().to_string());
    assert_eq!(me.inbox_key.as_deref(), Some(inbox.to_string().as_str()));
    assert!(me.revoked_at_ms.is_none());
    // A revoked device stays listed with the time, so that what it sent before stays
    // verifiable and nothing later is.
    let revoked_at = now_ms();
    server.admin().revoke(&phone.device_id, revoked_at).unwrap();
    let other = server.volunteer(2);
    let config =
        TeamConfig::verify(&other.send("GET", "/v1/config", b"", &[]).json(), &server.public)
            .unwrap();
    let gone = config.device(&phone.device_id).expect("still listed");
    assert_eq!(gone.revoked_at_ms, Some(revoked_at));
    assert!(gone.trusted_at(revoked_at - 1));
    assert!(!gone.trusted_at(revoked_at));
    assert!(config.device(&other.device_id).unwrap().trusted_at(now_ms()));
}
