"""The ``titles`` command: migrate, deploy, seed, run processes, run everything.

titles migrate [SERVICE...]   Alembic upgrade of each service's database
titles deploy                 deploy the diagrams in bpmn/ into the review service
titles seed                   load the demonstration data
titles consume SERVICE        run a service's message consumer
titles relay SERVICE          run a service's outbox relay
titles scheduler              run the review service's timer scheduler
titles dispatch               run the notify service's e-mail and SMS dispatcher
titles work [WORKER...]       run background workers as threads of one process (default: every
                              consumer and relay, the scheduler and the dispatcher), as titles run does
titles provision [--no-seed]  migrate, deploy and seed (what titles run does before it starts)
titles run                    migrate, deploy, seed and start everything (embedded default)
titles scenario               drive one declaration to a certificate over HTTP
titles dead-letters QUEUE [--replay]
                              list (or replay) the messages parked in QUEUE.dead
"""

from __future__ import annotations

import argparse
import sys
import threading

from shared import config
from shared.config import SERVICES
from shared.process import until_signalled
from titles import bootstrap
from titles.provision import deploy, migrate, seed


def consume(service: str) -> None:
    from shared.messaging.consumer import ServiceConsumer

    module = bootstrap.service(service)
    consumer = ServiceConsumer(module.database(), module.handlers())
    until_signalled(service, consumer.run)


def relay(service: str) -> None:
    from shared.messaging import relay as outbox_relay

    db = bootstrap.service(service).database()
    until_signalled(service, lambda stop: outbox_relay.run(db, stop))


def scheduler() -> None:
    from services.review import scheduler as review_scheduler
    from services.review.bootstrap import database

    db = database()
    until_signalled("review", lambda stop: review_scheduler.run(db, stop))


def dead_letters(parser: argparse.ArgumentParser, queue: str, replay: bool, limit: int) -> int:
    from shared.messaging import deadletters, topology

    known = [s.queue for s in topology.SUBSCRIPTIONS]
    if queue not in known:
        parser.error(f"unknown queue {queue!r}; queues are {', '.join(known)}")
    if replay:
        print(f"replayed {deadletters.replay(queue, limit)} message(s) into {queue}")
        return 0
    letters = deadletters.list_dead(queue, limit)
    for letter in letters:
        print(f"{letter.message_id}  {letter.type}  declaration={letter.correlation_id}  reason={letter.reason}")
    print(f"{len(letters)} dead letter(s) in {queue}.dead")
    return 0


def dispatch() -> None:
    from services.notify import dispatcher
    from services.notify.bootstrap import database

    db = database()
    until_signalled("notify", lambda stop: dispatcher.run(db, stop))


def work(parser: argparse.ArgumentParser, names: list[str]) -> int:
    from titles import groups

    known = list(groups.workers())
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"unknown worker(s) {', '.join(unknown)}; workers are {', '.join(known)}")
    code = 0

    def run(stop: threading.Event) -> None:
        nonlocal code
        code = groups.work(names or known, stop)

    until_signalled("work", run)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="titles", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_migrate = sub.add_parser("migrate", help="upgrade the services' databases")
    p_migrate.add_argument("services", nargs="*", metavar="SERVICE", help=f"any of {', '.join(SERVICES)}")
    sub.add_parser("deploy", help="deploy the BPMN diagrams into the review service")
    sub.add_parser("seed", help="load the demonstration data")
    for name in ("consume", "relay"):
        p = sub.add_parser(name, help=f"run a service's {'consumer' if name == 'consume' else 'outbox relay'}")
        p.add_argument("service", choices=SERVICES)
    sub.add_parser("scheduler", help="run the review timer scheduler")
    sub.add_parser("dispatch", help="run the notify e-mail and SMS dispatcher")
    p_work = sub.add_parser("work", help="run background workers as threads of one process")
    p_work.add_argument("workers", nargs="*", metavar="WORKER", help="e.g. review-consumer review-relay (default: all)")
    p_provision = sub.add_parser("provision", help="migrate, deploy the diagrams and load the demonstration data")
    p_provision.add_argument("--no-seed", action="store_true", help="skip the demonstration data")
    p_run = sub.add_parser("run", help="start the whole system on the embedded default")
    p_run.add_argument("--no-seed", action="store_true", help="skip the demonstration data")
    p_dead = sub.add_parser("dead-letters", help="list or replay a queue's dead letters")
    p_dead.add_argument("queue", help="a subscription queue, e.g. notify.on_certificate_issued")
    p_dead.add_argument("--replay", action="store_true", help="move them back into the queue")
    p_dead.add_argument("--limit", type=int, default=100)
    p_scenario = sub.add_parser("scenario", help="carry one declaration to a certificate over HTTP")
    p_scenario.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for readiness")
    args = parser.parse_args(argv)
    config.from_environment()  # once, for this process; the supervisor builds its children's environments

    if args.command == "migrate":
        unknown = sorted(set(args.services) - set(SERVICES))
        if unknown:
            parser.error(f"unknown service(s) {', '.join(unknown)}; services are {', '.join(SERVICES)}")
        migrate(args.services)
    elif args.command == "deploy":
        deploy()
    elif args.command == "seed":
        seed()
    elif args.command == "consume":
        consume(args.service)
    elif args.command == "relay":
        relay(args.service)
    elif args.command == "scheduler":
        scheduler()
    elif args.command == "dispatch":
        dispatch()
    elif args.command == "work":
        return work(parser, args.workers)
    elif args.command == "provision":
        migrate([])
        deploy()
        if not args.no_seed:
            seed()
    elif args.command == "run":
        from titles import supervisor

        return supervisor.run_all(seed_demo=not args.no_seed)
    elif args.command == "dead-letters":
        return dead_letters(parser, args.queue, args.replay, args.limit)
    elif args.command == "scenario":
        from scenario import social_review

        return social_review.main(ready_timeout=args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
