"""Records' class lists reach attendance, and attendance's month totals reach records' promotion
rule, over RabbitMQ (R14; DOMAIN §1.9: more than 45 days absent means retention at secondary).

Both workers run in this process (``common.worker.run_worker``) against their own databases on
one test vhost and exchange, the way ``python -m <svc>.worker`` runs them. Records opens last
school year and a grade-6 class with two students; attendance, knowing them only from records'
events, takes 46 rolls with one student absent and closes the months; records then says that
student is retained for absences, and the other has no absence at all.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

from pydantic import SecretStr
from sqlalchemy import func, select

from attendance.consumers import SUBSCRIPTIONS as ATTENDANCE_SUBSCRIPTIONS
from attendance.domain.counting import Mark
from attendance.handlers.copies import record_org_unit as attendance_org_unit
from attendance.handlers.months import close_month
from attendance.handlers.rollcalls import MarkInput, SubmitRollCall, submit_roll_call
from attendance.models import EnrolmentRow
from attendance.settings import AttendanceSettings
from attendance.uow import AttendanceUnitOfWork
from common.access import Actor as CommonActor
from common.auth import Grant, Principal
from common.db import create_engine, create_sessionmaker
from common.events.attendance import Session
from common.events.identity import OrgLevel, OrgUnitCreated
from common.testing import DatabaseFactory, Unique, alembic, wait_until
from common.worker import run_worker
from records.access import Actor
from records.consumers import SUBSCRIPTIONS as RECORDS_SUBSCRIPTIONS
from records.domain.curriculum import Period
from records.handlers import calendar, classes, results
from records.handlers.calendar import record_org_unit as records_org_unit
from records.models import AbsenceTotalRow
from records.rules import RuleOptions
from records.settings import RecordsSettings
from records.uow import RecordsUnitOfWork

DATA_KEY = "test-records-data-key-not-a-secret-0123456789"


def principal(user: uuid.UUID, role: str, unit: uuid.UUID) -> Principal:
    return Principal(
        subject=str(user),
        kind="user",
        grants=(Grant(role, str(unit)),),
        token_id=uuid.uuid4().hex,
        expires_at=datetime.now(UTC) + timedelta(minutes=30),
    )


def org_tree(province: uuid.UUID, district: uuid.UUID, school: uuid.UUID) -> list[OrgUnitCreated]:
    at = datetime.now(UTC)
    tag = province.hex[:6].upper()
    return [
        OrgUnitCreated(
            unit_id=unit,
            kind=kind,
            code=f"{code}{tag}",
            parent_id=parent,
            levels=levels,
            province_id=province,
            district_id=district if kind is not OrgLevel.PROVINCE else None,
            created_at=at,
            created_by=None,
        )
        for unit, kind, code, parent, levels in (
            (province, OrgLevel.PROVINCE, "E", None, []),
            (district, OrgLevel.DISTRICT, "E-D", province, []),
            (school, OrgLevel.SCHOOL, "E-D-THCS", district, ["lower_secondary"]),
        )
    ]


async def test_month_totals_from_attendance_decide_promotion_in_records(
    make_database: DatabaseFactory, amqp_url: str, unique: Unique
) -> None:
    records_url = await make_database(unique("flow_rec").replace("-", "_"))
    attendance_url = await make_database(unique("flow_att").replace("-", "_"))
    alembic("records", records_url)
    alembic("attendance", attendance_url)
    exchange = unique("events")
    records_settings = RecordsSettings(
        database_url=records_url,
        amqp_url=amqp_url,
        events_exchange=exchange,
        data_key=SecretStr(DATA_KEY),
        consumer_retry_delays=[0.5, 1.0],
    )
    attendance_settings = AttendanceSettings(
        database_url=attendance_url,
        amqp_url=amqp_url,
        events_exchange=exchange,
        consumer_retry_delays=[0.5, 1.0],
    )
    records_engine, attendance_engine = create_engine(records_url), create_engine(attendance_url)
    records_sessions = create_sessionmaker(records_engine)
    attendance_sessions = create_sessionmaker(attendance_engine)

    def records_uow() -> RecordsUnitOfWork:
        return RecordsUnitOfWork(records_sessions, source="records")

    def attendance_uow() -> AttendanceUnitOfWork:
        return AttendanceUnitOfWork(attendance_sessions, source="attendance")

    province, district, school = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for event in org_tree(province, district, school):
        await records_org_unit(event, records_uow())
        await attendance_org_unit(event, attendance_uow())
    stop = asyncio.Event()
    workers = [
        asyncio.create_task(
            run_worker(
                settings=settings,
                engine=engine,
                uow_factory=factory,
                subscriptions=subscriptions,
                stop=stop,
            )
        )
        for settings, engine, factory, subscriptions in (
            (records_settings, records_engine, records_uow, RECORDS_SUBSCRIPTIONS),
            (attendance_settings, attendance_engine, attendance_uow, ATTENDANCE_SUBSCRIPTIONS),
        )
    ]
    try:
        # Both consumers' queues exist before anything is published.
        await asyncio.sleep(2.0)
        today = datetime.now(UTC).date()
        first = today.year - 1 if today.month >= 8 else today.year - 2
        starts, split, ends = date(first, 8, 15), date(first + 1, 1, 17), date(first + 1, 7, 31)
        admin = Actor.of(principal(uuid.uuid4(), "province_admin", province))
        year = await calendar.create_school_year(
            records_uow(),
            admin,
            calendar.CreateSchoolYear(
                province_id=province,
                code=f"{first}-{first + 1}",
                starts_on=starts,
                ends_on=ends,
                periods=(
                    calendar.PeriodDates(Period.TERM_1, starts, split),
                    calendar.PeriodDates(
                        Period.TERM_2, split + timedelta(days=1), date(first + 1, 5, 31)
                    ),
                ),
            ),
        )
        board = Actor.of(principal(uuid.uuid4(), "school_admin", school))
        homeroom = uuid.uuid4()
        class_row = await classes.create_class(
            records_uow(),
            board,
            classes.CreateClass(school, year.id, 6, "6A1", homeroom),
        )
        students = await classes.enrol_new_students(
            records_uow(),
            board,
            classes.records_secret_box(records_settings.data_key_bytes()),
            class_id=class_row.id,
            profiles=[
                classes.StudentProfile(name, date(first - 11, 3, 1), gender, "Kinh", "Bình Lâm")
                for name, gender in (
                    ("Nguyễn Văn An", classes.Gender.MALE),
                    ("Trần Thị Bình", classes.Gender.FEMALE),
                )
            ],
            starts_on=starts,
        )
        absent, present = students[0].id, students[1].id

        async def lists_arrived() -> bool:
            async with attendance_sessions() as session:
                count = await session.scalar(
                    select(func.count())
                    .select_from(EnrolmentRow)
                    .where(EnrolmentRow.class_id == class_row.id)
                )
            return count == 2

        assert await wait_until(lists_arrived, timeout=30), "the class list never reached us"
        teacher = CommonActor.of(principal(homeroom, "teacher", school))
        days: list[date] = []
        day = starts
        while len(days) < 46:
            if day.isoweekday() != 7:  # the platform's default bells: Monday to Saturday
                days.append(day)
            day += timedelta(days=1)
        for on in days:
            await submit_roll_call(
                attendance_uow(),
                teacher,
                attendance_settings,
                SubmitRollCall(
                    class_id=class_row.id,
                    day=on,
                    session=Session.MORNING,
                    marks=(
                        MarkInput(
                            absent, Mark.ABSENT_UNEXCUSED if on.day % 3 else Mark.ABSENT_EXCUSED
                        ),
                        MarkInput(present, Mark.PRESENT),
                    ),
                    if_match=None,
                ),
            )
        months = sorted({f"{d.year}-{d.month:02d}" for d in days})
        for month in months:
            await close_month(attendance_uow(), teacher, attendance_settings, class_row.id, month)

        async def totals() -> dict[uuid.UUID, AbsenceTotalRow]:
            async with records_sessions() as session:
                rows = await session.scalars(
                    select(AbsenceTotalRow).where(AbsenceTotalRow.school_year_id == year.id)
                )
                return {r.student_id: r for r in rows}

        async def all_months_arrived() -> bool:
            found = await totals()
            row = found.get(absent)
            return row is not None and row.excused_days + row.unexcused_days == 46

        assert await wait_until(all_months_arrived, timeout=60), await totals()
        found = await totals()
        excused = sum(1 for d in days if d.day % 3 == 0)
        assert (found[absent].excused_days, found[absent].unexcused_days) == (excused, 46 - excused)
        assert found[absent].source == "attendance"
        assert (found[present].excused_days, found[present].unexcused_days) == (0, 0)
        leader = Actor.of(principal(uuid.uuid4(), "school_leader", school))
        options = RuleOptions()
        _, _, retained = await results.read_student_results(
            records_uow(), leader, absent, year.id, options
        )
        promotion = retained.get("promotion")
        assert promotion is not None
        assert promotion.value == "retained"
        assert "46" in promotion.reason_vi
        _, _, other = await results.read_student_results(
            records_uow(), leader, present, year.id, options
        )
        other_promotion = other.get("promotion")
        # No grades were entered, so no decision yet; but absences are known and not the reason.
        assert other_promotion is not None
        assert other_promotion.value is None
        assert other_promotion.inputs["absence_days"] == "0"
    finally:
        stop.set()
        await asyncio.gather(*(asyncio.wait_for(w, 30) for w in workers))
        await records_engine.dispose()
        await attendance_engine.dispose()
