"""The export queue's consumer on the local stack: `python -m devstack.export_worker`.

`chalice local` serves HTTP routes only and never runs queue consumers, so this process polls
the export queue in moto and hands each message, shaped as the SQS event Lambda delivers, to
the very handler deployed on AWS (chalicelib/routes/export.py `on_export_message`). A message
whose handler raised is left in the queue: it comes back after the queue's visibility timeout,
as on AWS.

Polls with WaitTimeSeconds=0: the local moto server runs one request at a time
(devstack/wire.py), so a long poll would hold up every other request.
"""
import logging
import signal
import threading

import boto3

# Each poll takes moto's one lock for a moment: idle, poll less often (an export starts within
# IDLE_POLL_SECONDS); busy, pick up the next step at once.
IDLE_POLL_SECONDS = 1.0
log = logging.getLogger("devstack.export_worker")


def lambda_event(message: dict, queue_arn: str, region: str) -> dict:
    """An SQS message as received by boto3, in the shape of Lambda's SQS event."""
    return {"Records": [{
        "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"], "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message["MD5OfBody"], "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn, "awsRegion": region}]}


class Consumer:
    def __init__(self, handler, queue_name: str, region: str):
        self.handler, self.region = handler, region
        self.sqs = boto3.client("sqs", region_name=region)
        self.url = self.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        self.arn = self.sqs.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def once(self) -> int:
        """Handle what is visible now; returns how many messages were received."""
        answer = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=1,
                                          WaitTimeSeconds=0, AttributeNames=["All"])
        messages = answer.get("Messages", [])
        for message in messages:
            try:
                self.handler(lambda_event(message, self.arn, self.region), None)
            except Exception:  # noqa: BLE001 -- as on Lambda: logged, message retried later
                log.exception("export step failed; the queue will deliver it again")
                continue
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self.once():
                stop.wait(IDLE_POLL_SECONDS)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from chalicelib import config
    from chalicelib.routes.export import on_export_message
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    log.info("polling %s", config.EXPORT_QUEUE)
    Consumer(on_export_message, config.EXPORT_QUEUE, config.REGION).run(stop)


if __name__ == "__main__":
    main()
