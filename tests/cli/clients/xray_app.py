"""A small app instrumented with the real aws-xray-sdk, as a user would write it: it serves three
requests (ok, a 404 error, a 500 fault), calls DynamoDB through boto3 (patched; the endpoint is
moto) and a remote HTTP endpoint (patched http.client), and sends every segment to the collector
named by AWS_XRAY_DAEMON_ADDRESS. Then it asks the collector for sampling rules through the SDK's
own connector. Prints one JSON line: the trace ids it made and the rules it got.

Usage: xray_app.py TABLE REMOTE_HOST:PORT
"""
import http.client
import json
import os
import sys

import boto3
from aws_xray_sdk.core import patch, xray_recorder
from aws_xray_sdk.core.daemon_config import DaemonConfig
from aws_xray_sdk.core.sampling.connector import ServiceConnector

table_name, remote = sys.argv[1], sys.argv[2]
xray_recorder.configure(service="checkout", sampling=False, context_missing="LOG_ERROR",
                        streaming_threshold=1)
patch(["boto3", "httplib"])

dynamodb = boto3.client("dynamodb")
dynamodb.create_table(TableName=table_name, BillingMode="PAY_PER_REQUEST",
                      AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])

traces = []
for status in (200, 404, 500):
    segment = xray_recorder.begin_segment("checkout")
    traces.append(segment.trace_id)
    segment.put_http_meta("method", "POST")
    segment.put_http_meta("url", "http://shop.example/checkout/%d" % status)
    segment.put_annotation("status_class", "%dxx" % (status // 100))
    dynamodb.put_item(TableName=table_name, Item={"id": {"S": "order-%d" % status}})
    connection = http.client.HTTPConnection(remote, timeout=10)
    connection.request("GET", "/moto-api/")
    connection.getresponse().read()
    if status == 500:
        with xray_recorder.in_subsegment("charge-card") as sub:
            try:
                raise RuntimeError("card declined")
            except RuntimeError as e:
                sub.add_exception(e, stack=[])
        segment.add_fault_flag()
    elif status == 404:
        segment.add_error_flag()
    segment.put_http_meta("status", status)
    xray_recorder.end_segment()

daemon = DaemonConfig(os.environ["AWS_XRAY_DAEMON_ADDRESS"])
connector = ServiceConnector()
connector.setup_xray_client(ip=daemon.tcp_ip, port=daemon.tcp_port, client=None)
rules = connector.fetch_sampling_rules()
print(json.dumps({"traces": traces, "rules": [r.name for r in rules]}))
