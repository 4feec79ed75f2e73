//! CloudTrail management events, one JSON record per line, as CloudTrail
//! delivers them to CloudWatch Logs: nested `userIdentity`, per-API
//! `requestParameters`/`responseElements` (EC2 `instancesSet.items` arrays),
//! `errorCode`/`errorMessage` on failures and `tlsDetails` on calls over TLS.

use super::LineGen;
use crate::clock::{self, Clock};
use crate::emit::{self, key, str_member};
use crate::rng::{Rng, Weighted};
use crate::vocab::FIRST_NAMES;

const ACCOUNT: &str = "123456789012";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    DescribeInstances,
    StartInstances,
    StopInstances,
    RunInstances,
    TerminateInstances,
    AssumeRole,
    GetCallerIdentity,
    CreateUser,
    DeleteUser,
    AttachRolePolicy,
    ListBuckets,
    CreateLogStream,
    DescribeLogGroups,
    UpdateTrail,
    ConsoleLogin,
    Decrypt,
}

const APIS: [(Api, &str, &str, u64); 16] = [
    (Api::DescribeInstances, "DescribeInstances", "ec2", 15),
    (Api::StartInstances, "StartInstances", "ec2", 6),
    (Api::StopInstances, "StopInstances", "ec2", 6),
    (Api::RunInstances, "RunInstances", "ec2", 2),
    (Api::TerminateInstances, "TerminateInstances", "ec2", 2),
    (Api::AssumeRole, "AssumeRole", "sts", 14),
    (Api::GetCallerIdentity, "GetCallerIdentity", "sts", 8),
    (Api::CreateUser, "CreateUser", "iam", 3),
    (Api::DeleteUser, "DeleteUser", "iam", 1),
    (Api::AttachRolePolicy, "AttachRolePolicy", "iam", 2),
    (Api::ListBuckets, "ListBuckets", "s3", 6),
    (Api::CreateLogStream, "CreateLogStream", "logs", 8),
    (Api::DescribeLogGroups, "DescribeLogGroups", "logs", 6),
    (Api::UpdateTrail, "UpdateTrail", "cloudtrail", 4),
    (Api::ConsoleLogin, "ConsoleLogin", "signin", 3),
    (Api::Decrypt, "Decrypt", "kms", 8),
];

const REGIONS: [(&str, u64); 6] = [
    ("us-east-1", 45),
    ("us-east-2", 20),
    ("us-west-2", 15),
    ("eu-west-1", 10),
    ("ap-northeast-1", 5),
    ("eu-central-1", 5),
];

const TLS: [(&str, &str, u64); 4] = [
    ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 80),
    ("TLSv1.3", "TLS_AES_128_GCM_SHA256", 14),
    ("TLSv1.1", "ECDHE-RSA-AES128-SHA", 3),
    ("TLSv1", "ECDHE-RSA-AES128-SHA", 3),
];

const AGENTS: [&str; 5] = [
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.amzn.2 prompt/off",
    "Boto3/1.34.54 md/Botocore#1.34.54 ua/2.0 os/linux#5.10 md/arch#x86_64 lang/python#3.11.8",
    "aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.0",
    "Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-aws/5.39.1",
    "AWS Internal",
];

/// An EC2 instance state: (code, name), e.g. (16, "running").
type State = (u64, &'static str);

const ROLES: [&str; 4] = ["DeployRole", "ReadOnlyRole", "LambdaExecRole", "AdminRole"];

pub struct CloudTrail {
    rng: Rng,
    clock: Clock,
    apis: Weighted,
    regions: Weighted,
    tls: Weighted,
    instances: Vec<String>,
    instance_weights: Weighted,
    sources: Vec<[u8; 4]>,
}

impl CloudTrail {
    pub fn new(seed: u64, start_ms: i64, mean_gap_ms: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut setup = rng.fork();
        let mut instances = vec!["i-abcde123".to_owned()];
        instances.extend((0..11).map(|_| format!("i-0{:016x}", setup.next_u64())));
        CloudTrail {
            clock: Clock::new(start_ms, mean_gap_ms),
            apis: Weighted::new(APIS.iter().map(|a| a.3)),
            regions: Weighted::new(REGIONS.iter().map(|r| r.1)),
            tls: Weighted::new(TLS.iter().map(|t| t.2)),
            instance_weights: Weighted::zipf(instances.len()),
            instances,
            sources: (0..12).map(|_| emit::public_octets(&mut setup)).collect(),
            rng,
        }
    }

    fn instances_set(&mut self, buf: &mut Vec<u8>, states: Option<(State, State)>) {
        let rng = &mut self.rng;
        buf.extend_from_slice(b"{\"instancesSet\":{\"items\":[");
        let n = if rng.per_mille(850) { 1 } else { rng.range(2, 3) };
        for i in 0..n {
            if i > 0 {
                buf.push(b',');
            }
            buf.extend_from_slice(b"{\"instanceId\":\"");
            buf.extend_from_slice(self.instances[self.instance_weights.sample(rng)].as_bytes());
            buf.push(b'"');
            if let Some(((cur, cur_name), (prev, prev_name))) = states {
                buf.extend_from_slice(b",\"currentState\":{\"code\":");
                emit::u64(buf, cur);
                buf.extend_from_slice(b",\"name\":\"");
                buf.extend_from_slice(cur_name.as_bytes());
                buf.extend_from_slice(b"\"},\"previousState\":{\"code\":");
                emit::u64(buf, prev);
                buf.extend_from_slice(b",\"name\":\"");
                buf.extend_from_slice(prev_name.as_bytes());
                buf.extend_from_slice(b"\"}");
            }
            buf.push(b'}');
        }
        buf.extend_from_slice(b"]}}");
    }
}

fn upper_id(buf: &mut Vec<u8>, rng: &mut Rng, prefix: &str) {
    const CHARS: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    buf.extend_from_slice(prefix.as_bytes());
    for _ in 0..16 {
        buf.push(CHARS[rng.below(32) as usize]);
    }
}

impl LineGen for CloudTrail {
    fn line(&mut self, buf: &mut Vec<u8>) {
        let rng = &mut self.rng;
        let ts = self.clock.tick(rng);
        let (api, name, service, _) = APIS[self.apis.sample(rng)];
        let global = matches!(service, "iam" | "signin");
        let region = if global {
            "us-east-1"
        } else {
            REGIONS[self.regions.sample(rng)].0
        };
        let by_service = api == Api::Decrypt && rng.per_mille(700);
        let user = rng.pick(&FIRST_NAMES[..12]);
        let role = rng.pick(&ROLES);
        // The IAM user a CreateUser/DeleteUser call is about.
        let subject = rng.pick(&FIRST_NAMES);

        buf.extend_from_slice(b"{\"eventVersion\":\"1.08\",\"userIdentity\":{");
        if by_service {
            buf.extend_from_slice(b"\"type\":\"AWSService\",\"invokedBy\":\"s3.amazonaws.com\"}");
        } else if api == Api::ConsoleLogin || rng.per_mille(350) {
            buf.extend_from_slice(b"\"type\":\"IAMUser\",\"principalId\":\"");
            upper_id(buf, rng, "AIDA");
            buf.extend_from_slice(b"\",\"arn\":\"arn:aws:iam::123456789012:user/");
            buf.extend_from_slice(user.as_bytes());
            buf.extend_from_slice(b"\",\"accountId\":\"123456789012\",\"accessKeyId\":\"");
            upper_id(buf, rng, "AKIA");
            buf.push(b'"');
            str_member(buf, "userName", user);
            buf.push(b'}');
        } else {
            buf.extend_from_slice(b"\"type\":\"AssumedRole\",\"principalId\":\"AROAEXAMPLEROLEID0001:");
            buf.extend_from_slice(user.as_bytes());
            buf.extend_from_slice(b"\",\"arn\":\"arn:aws:sts::123456789012:assumed-role/");
            buf.extend_from_slice(role.as_bytes());
            buf.push(b'/');
            buf.extend_from_slice(user.as_bytes());
            buf.extend_from_slice(b"\",\"accountId\":\"123456789012\",\"accessKeyId\":\"");
            upper_id(buf, rng, "ASIA");
            buf.extend_from_slice(b"\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"AROAEXAMPLEROLEID0001\",\"arn\":\"arn:aws:iam::123456789012:role/");
            buf.extend_from_slice(role.as_bytes());
            buf.extend_from_slice(b"\",\"accountId\":\"123456789012\",\"userName\":\"");
            buf.extend_from_slice(role.as_bytes());
            buf.extend_from_slice(b"\"},\"attributes\":{\"creationDate\":\"");
            clock::iso_secs(buf, ts - rng.below(3_600_000) as i64);
            buf.extend_from_slice(b"\",\"mfaAuthenticated\":\"false\"}}}");
        }
        key(buf, "eventTime");
        buf.push(b'"');
        clock::iso_secs(buf, ts);
        buf.push(b'"');
        key(buf, "eventSource");
        buf.push(b'"');
        buf.extend_from_slice(service.as_bytes());
        buf.extend_from_slice(b".amazonaws.com\"");
        str_member(buf, "eventName", name);
        str_member(buf, "awsRegion", region);
        key(buf, "sourceIPAddress");
        buf.push(b'"');
        if by_service {
            buf.extend_from_slice(b"s3.amazonaws.com");
        } else {
            emit::ipv4(buf, rng.pick(&self.sources));
        }
        buf.push(b'"');
        let agent = if by_service {
            "s3.amazonaws.com"
        } else if api == Api::ConsoleLogin {
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15"
        } else {
            rng.pick(&AGENTS)
        };
        str_member(buf, "userAgent", agent);

        let failed = match api {
            Api::UpdateTrail => rng.per_mille(500),
            Api::ConsoleLogin | Api::Decrypt => false,
            _ => rng.per_mille(30),
        };
        let login_failed = api == Api::ConsoleLogin && rng.per_mille(150);
        if failed {
            let (code, message) = if api == Api::UpdateTrail {
                rng.pick(&[
                    ("TrailNotFoundException", "Unknown trail: arn:aws:cloudtrail:us-east-1:123456789012:trail/old-trail for the user: 123456789012"),
                    ("InsufficientS3BucketPolicyException", "Incorrect S3 bucket policy is detected for bucket: my-trail-bucket"),
                    ("AccessDenied", "User is not authorized to perform: cloudtrail:UpdateTrail"),
                ])
            } else if service == "ec2" {
                (
                    "Client.UnauthorizedOperation",
                    "You are not authorized to perform this operation.",
                )
            } else {
                ("AccessDenied", "User is not authorized to perform this action")
            };
            str_member(buf, "errorCode", code);
            str_member(buf, "errorMessage", message);
        } else if login_failed {
            str_member(buf, "errorMessage", "Failed authentication");
        }

        key(buf, "requestParameters");
        match api {
            Api::DescribeInstances => {
                if self.rng.per_mille(500) {
                    self.instances_set(buf, None);
                } else {
                    buf.extend_from_slice(b"{\"instancesSet\":{},\"filterSet\":{}}");
                }
            }
            Api::StartInstances | Api::StopInstances | Api::TerminateInstances => {
                self.instances_set(buf, None);
            }
            Api::RunInstances => buf.extend_from_slice(
                b"{\"instancesSet\":{\"items\":[{\"imageId\":\"ami-0abcdef1234567890\",\"minCount\":1,\"maxCount\":1}]},\"instanceType\":\"t3.micro\"}",
            ),
            Api::AssumeRole => {
                buf.extend_from_slice(b"{\"roleArn\":\"arn:aws:iam::123456789012:role/");
                buf.extend_from_slice(role.as_bytes());
                buf.extend_from_slice(b"\",\"roleSessionName\":\"");
                buf.extend_from_slice(user.as_bytes());
                buf.extend_from_slice(b"\",\"durationSeconds\":3600}");
            }
            Api::CreateUser | Api::DeleteUser => {
                buf.extend_from_slice(b"{\"userName\":\"");
                buf.extend_from_slice(subject.as_bytes());
                buf.extend_from_slice(b"\"}");
            }
            Api::AttachRolePolicy => {
                buf.extend_from_slice(b"{\"roleName\":\"");
                buf.extend_from_slice(role.as_bytes());
                buf.extend_from_slice(b"\",\"policyArn\":\"arn:aws:iam::aws:policy/ReadOnlyAccess\"}");
            }
            Api::ListBuckets => {
                buf.extend_from_slice(b"{\"Host\":\"s3.");
                buf.extend_from_slice(region.as_bytes());
                buf.extend_from_slice(b".amazonaws.com\"}");
            }
            Api::CreateLogStream => {
                buf.extend_from_slice(b"{\"logGroupName\":\"/aws/lambda/orders-api\",\"logStreamName\":\"2024/03/01/[$LATEST]");
                emit::hex(buf, self.rng.next_u64(), 16);
                emit::hex(buf, self.rng.next_u64(), 16);
                buf.extend_from_slice(b"\"}");
            }
            Api::DescribeLogGroups => buf.extend_from_slice(b"{\"logGroupNamePrefix\":\"/aws/lambda/\"}"),
            Api::UpdateTrail => buf.extend_from_slice(
                b"{\"name\":\"management-trail\",\"s3BucketName\":\"my-trail-bucket\",\"isMultiRegionTrail\":true}",
            ),
            Api::Decrypt => buf.extend_from_slice(
                b"{\"encryptionContext\":{\"aws:s3:arn\":\"arn:aws:s3:::my-bucket/uploads/report.csv\"},\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\"}",
            ),
            Api::GetCallerIdentity | Api::ConsoleLogin => buf.extend_from_slice(b"null"),
        }

        key(buf, "responseElements");
        if failed {
            buf.extend_from_slice(b"null");
        } else {
            match api {
                Api::StartInstances => {
                    self.instances_set(buf, Some(((0, "pending"), (80, "stopped"))));
                }
                Api::StopInstances => {
                    self.instances_set(buf, Some(((64, "stopping"), (16, "running"))));
                }
                Api::TerminateInstances => {
                    self.instances_set(buf, Some(((32, "shutting-down"), (16, "running"))));
                }
                Api::RunInstances => {
                    buf.extend_from_slice(b"{\"instancesSet\":{\"items\":[{\"instanceId\":\"i-0");
                    emit::hex(buf, self.rng.next_u64(), 16);
                    buf.extend_from_slice(b"\",\"currentState\":{\"code\":0,\"name\":\"pending\"}}]}}");
                }
                Api::AssumeRole => {
                    buf.extend_from_slice(b"{\"credentials\":{\"accessKeyId\":\"");
                    upper_id(buf, &mut self.rng, "ASIA");
                    buf.extend_from_slice(b"\",\"expiration\":\"");
                    clock::iso_secs(buf, ts + 3_600_000);
                    buf.extend_from_slice(b"\"},\"assumedRoleUser\":{\"assumedRoleId\":\"AROAEXAMPLEROLEID0001:");
                    buf.extend_from_slice(user.as_bytes());
                    buf.extend_from_slice(b"\",\"arn\":\"arn:aws:sts::123456789012:assumed-role/");
                    buf.extend_from_slice(role.as_bytes());
                    buf.push(b'/');
                    buf.extend_from_slice(user.as_bytes());
                    buf.extend_from_slice(b"\"}}");
                }
                Api::CreateUser => {
                    buf.extend_from_slice(b"{\"user\":{\"path\":\"/\",\"userName\":\"");
                    buf.extend_from_slice(subject.as_bytes());
                    buf.extend_from_slice(b"\",\"userId\":\"");
                    upper_id(buf, &mut self.rng, "AIDA");
                    buf.extend_from_slice(b"\",\"arn\":\"arn:aws:iam::123456789012:user/");
                    buf.extend_from_slice(subject.as_bytes());
                    buf.extend_from_slice(b"\",\"createDate\":\"");
                    clock::iso_secs(buf, ts);
                    buf.extend_from_slice(b"\"}}");
                }
                Api::UpdateTrail => buf.extend_from_slice(
                    b"{\"name\":\"management-trail\",\"s3BucketName\":\"my-trail-bucket\",\"trailARN\":\"arn:aws:cloudtrail:us-east-1:123456789012:trail/management-trail\",\"isMultiRegionTrail\":true}",
                ),
                Api::ConsoleLogin => buf.extend_from_slice(if login_failed {
                    b"{\"ConsoleLogin\":\"Failure\"}"
                } else {
                    b"{\"ConsoleLogin\":\"Success\"}"
                }),
                _ => buf.extend_from_slice(b"null"),
            }
        }

        let rng = &mut self.rng;
        key(buf, "requestID");
        buf.push(b'"');
        emit::uuid(buf, rng);
        buf.push(b'"');
        key(buf, "eventID");
        buf.push(b'"');
        emit::uuid(buf, rng);
        buf.push(b'"');
        let read_only = matches!(
            api,
            Api::DescribeInstances
                | Api::GetCallerIdentity
                | Api::ListBuckets
                | Api::DescribeLogGroups
                | Api::Decrypt
        );
        key(buf, "readOnly");
        buf.extend_from_slice(if read_only { b"true" } else { b"false" });
        let event_type = if api == Api::ConsoleLogin {
            "AwsConsoleSignIn"
        } else {
            "AwsApiCall"
        };
        str_member(buf, "eventType", event_type);
        key(buf, "managementEvent");
        buf.extend_from_slice(b"true");
        str_member(
            buf,
            "recipientAccountId",
            if rng.per_mille(900) {
                ACCOUNT
            } else {
                "111122223333"
            },
        );
        str_member(buf, "eventCategory", "Management");
        if !by_service {
            let (version, cipher, _) = TLS[self.tls.sample(rng)];
            buf.extend_from_slice(b",\"tlsDetails\":{\"tlsVersion\":\"");
            buf.extend_from_slice(version.as_bytes());
            buf.extend_from_slice(b"\",\"cipherSuite\":\"");
            buf.extend_from_slice(cipher.as_bytes());
            buf.extend_from_slice(b"\",\"clientProvidedHostHeader\":\"");
            if api == Api::ConsoleLogin {
                buf.extend_from_slice(b"signin.aws.amazon.com");
            } else {
                buf.extend_from_slice(service.as_bytes());
                if !global {
                    buf.push(b'.');
                    buf.extend_from_slice(region.as_bytes());
                }
                buf.extend_from_slice(b".amazonaws.com");
            }
            buf.extend_from_slice(b"\"}");
        }
        buf.extend_from_slice(b"}\n");
    }
}
