"""Creates the bucket, the notification queue and the bucket→queue notifications (idempotent),
and any other buckets named (the validators' results bucket), without notifications.

S3 sends an ObjectCreated notification to the queue for every key under data/ ending in
.parquet (the uploads) or .json (v2 metadata), as it would on AWS.
"""

import argparse
import json

import boto3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--extra-bucket", action="append", default=[])
    args = parser.parse_args()
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=args.region)
    s3 = session.client("s3", endpoint_url=args.endpoint)
    sqs = session.client("sqs", endpoint_url=args.endpoint)

    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    for bucket in [args.bucket, *args.extra_bucket]:
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
    queue_url = sqs.create_queue(QueueName=args.queue, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{args.bucket}"}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})

    def rule(rule_id: str, suffix: str) -> dict:
        return {
            "Id": rule_id,
            "QueueArn": queue_arn,
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "data/"}, {"Name": "suffix", "Value": suffix}]}},
        }

    s3.put_bucket_notification_configuration(
        Bucket=args.bucket,
        NotificationConfiguration={"QueueConfigurations": [rule("uploads", ".parquet"), rule("metadata", ".json")]},
    )
    print(f"moto: bucket s3://{args.bucket} notifies {queue_url} of data/*.parquet and data/*.json")


if __name__ == "__main__":
    main()
