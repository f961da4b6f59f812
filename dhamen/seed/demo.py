"""A realistic Tunisian demo dataset, loaded idempotently.

Every row has a natural key (insurer code, provider licence number, member
national ID, contract number, user email, insurer+provider for conventions);
rows whose key already exists are left alone, so a second run changes
nothing.  Generation is deterministic (fixed random seed).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select

from dhamen.access.auth.passwords import hash_password
from dhamen.core import audit, crypto
from dhamen.domain.catalogue import CARE_TYPES, items_for
from dhamen.extensions import db
from dhamen.models import Adherent, Contract, Convention, Insurer, Provider, User

DEMO_PASSWORD = "Dhamen-Demo-2026"  # noqa: S105 - documented demo password, development only
SEED = 2026

INSURERS = [
    ("STAR", "STAR Assurances", "0000123A", "Avenue Habib Bourguiba, Tunis", "+216 71 340 866", "sante@star.tn"),
    ("GAT", "GAT Assurances", "0000456B", "92-94 Avenue Hédi Chaker, Tunis", "+216 71 843 000", "sante@gat.tn"),
    ("COMAR", "COMAR Assurances", "0000789C", "Avenue Habib Bourguiba, Tunis", "+216 71 340 899", "sante@comar.tn"),
]
INSURER_PROFILE = {
    # retention %, review threshold, block threshold, cycle
    "STAR": (1.5, 40, 75, "monthly"),
    "GAT": (2.0, 35, 70, "monthly"),
    "COMAR": (1.0, 45, 80, "quarterly"),
}

CITIES = {
    "Tunis": (36.8065, 10.1815),
    "Ariana": (36.8625, 10.1956),
    "Ben Arous": (36.7531, 10.2189),
    "Sfax": (34.7406, 10.7603),
    "Sousse": (35.8256, 10.6084),
    "Monastir": (35.7643, 10.8113),
    "Nabeul": (36.4561, 10.7376),
    "Bizerte": (37.2744, 9.8739),
    "Gabès": (33.8815, 10.0982),
    "Kairouan": (35.6781, 10.0963),
}

PROVIDERS = [
    # type, name, city, speciality
    ("pharmacist", "Pharmacie Centrale Lafayette", "Tunis", None),
    ("pharmacist", "Pharmacie Ennasr", "Ariana", None),
    ("pharmacist", "Pharmacie El Menzah", "Tunis", None),
    ("pharmacist", "Pharmacie Bab Bhar", "Sfax", None),
    ("pharmacist", "Pharmacie Sahloul", "Sousse", None),
    ("pharmacist", "Pharmacie de la Corniche", "Bizerte", None),
    ("pharmacist", "Pharmacie Hammamet Centre", "Nabeul", None),
    ("pharmacist", "Pharmacie Jara", "Gabès", None),
    ("doctor", "Dr Sami Trabelsi", "Tunis", "Médecine générale"),
    ("doctor", "Dr Leila Ben Salah", "Ariana", "Pédiatrie"),
    ("doctor", "Dr Karim Jebali", "Sfax", "Cardiologie"),
    ("doctor", "Dr Amira Gharbi", "Sousse", "Gynécologie"),
    ("doctor", "Dr Hichem Mansouri", "Monastir", "Médecine générale"),
    ("doctor", "Dr Olfa Zouari", "Kairouan", "Dermatologie"),
    ("lab", "Laboratoire Pasteur Analyses", "Tunis", None),
    ("lab", "Laboratoire El Amen Biologie", "Sfax", None),
    ("lab", "Laboratoire Sahel Analyses", "Sousse", None),
    ("clinic", "Clinique Les Berges du Lac", "Tunis", None),
    ("clinic", "Clinique Hannibal", "Ben Arous", None),
    ("clinic", "Clinique Echifa Sfax", "Sfax", None),
    ("clinic", "Polyclinique Les Oliviers", "Sousse", None),
]

FIRST_NAMES_M = ["Mohamed", "Ahmed", "Youssef", "Sami", "Karim", "Walid", "Anis", "Mehdi", "Bilel", "Hichem",
                 "Nizar", "Slim", "Riadh", "Aymen", "Skander", "Fares", "Hamza", "Omar", "Tarek", "Zied"]
FIRST_NAMES_F = ["Fatma", "Amira", "Leila", "Nour", "Salma", "Ines", "Rim", "Sonia", "Olfa", "Hela",
                 "Mariem", "Asma", "Sarra", "Yasmine", "Emna", "Khadija", "Rania", "Wafa", "Meriem", "Nadia"]
LAST_NAMES = ["Ben Ali", "Trabelsi", "Jebali", "Gharbi", "Hammami", "Mejri", "Ayari", "Bouazizi", "Chaabane",
              "Dridi", "Ferchichi", "Karoui", "Mansouri", "Sassi", "Zouari", "Ben Salah", "Belhadj", "Khelifi",
              "Saidi", "Baccouche", "Ben Youssef", "Chebbi", "Haddad", "Jaziri", "Masmoudi", "Nasri", "Ouni",
              "Riahi", "Slimani", "Tlili"]
STREETS = ["Rue de Marseille", "Avenue de la Liberté", "Rue Ibn Khaldoun", "Avenue Mohamed V", "Rue de Palestine",
           "Avenue Farhat Hached", "Rue d'Espagne", "Avenue Taïeb Mhiri", "Rue Ali Belhouane", "Avenue de Carthage"]

PLANS = {
    # plan_type: (coverage, exclusions, annual limits to pick from, carence choices)
    "individual": (
        {"pharmacy": {"rate": 80, "generic_rate": 90}, "consultation": {"rate": 70}, "lab": {"rate": 80}},
        ["cat:cosmetique"],
        [1_500_000, 2_000_000, 3_000_000],
        [0, 30],
    ),
    "family": (
        {"pharmacy": {"rate": 80, "generic_rate": 85}, "consultation": {"rate": 80}, "lab": {"rate": 80},
         "hospitalization": {"rate": 90, "room_day_cap": 120_000}},
        ["cat:cosmetique", "cat:confort"],
        [5_000_000, 8_000_000, None],
        [0, 60, 90],
    ),
    "corporate": (
        {"pharmacy": {"rate": 90, "generic_rate": 100}, "consultation": {"rate": 90}, "lab": {"rate": 90},
         "hospitalization": {"rate": 100, "room_day_cap": 150_000}},
        ["cat:cosmetique"],
        [None, 10_000_000],
        [0],
    ),
}

DEMO_USERS = [
    # email, role, first, last, org kind, org key
    ("admin@dhamen.tn", "ADMIN", "Nadia", "Belhadj", None, None),
    ("admin@star.tn", "INSURER_ADMIN", "Riadh", "Chebbi", "insurer", "STAR"),
    ("agent@star.tn", "INSURER_AGENT", "Sarra", "Masmoudi", "insurer", "STAR"),
    ("agent@gat.tn", "INSURER_AGENT", "Omar", "Tlili", "insurer", "GAT"),
    ("admin@gat.tn", "INSURER_ADMIN", "Emna", "Riahi", "insurer", "GAT"),
    ("pharmacie@dhamen.tn", "PHARMACIST", "Hela", "Ouni", "provider", "Pharmacie Centrale Lafayette"),
    ("pharmacie.sfax@dhamen.tn", "PHARMACIST", "Zied", "Haddad", "provider", "Pharmacie Bab Bhar"),
    ("medecin@dhamen.tn", "DOCTOR", "Sami", "Trabelsi", "provider", "Dr Sami Trabelsi"),
    ("labo@dhamen.tn", "LAB_MANAGER", "Asma", "Jaziri", "provider", "Laboratoire Pasteur Analyses"),
    ("clinique@dhamen.tn", "CLINIC_ADMIN", "Tarek", "Nasri", "provider", "Clinique Les Berges du Lac"),
]


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)
    demo_users: list[tuple[str, str]] = field(default_factory=list)

    def add(self, kind: str, n: int = 1) -> None:
        self.created[kind] = self.created.get(kind, 0) + n

    @property
    def total(self) -> int:
        return sum(self.created.values())

    def summary(self) -> str:
        if not self.total:
            return "Données de démonstration déjà présentes: rien à ajouter."
        parts = ", ".join(f"{n} {kind}" for kind, n in sorted(self.created.items()))
        return f"Données de démonstration ajoutées: {parts}."


def _license(kind: str, index: int) -> str:
    prefix = {"pharmacist": "PH", "doctor": "MD", "lab": "LB", "clinic": "CL"}[kind]
    return f"TN-{prefix}-{1000 + index:05d}"


def _near(rng: random.Random, city: str) -> tuple[float, float]:
    lat, lng = CITIES[city]
    return round(lat + rng.uniform(-0.03, 0.03), 6), round(lng + rng.uniform(-0.03, 0.03), 6)


def insurer_config(code: str) -> dict:
    retention, review, block, cycle = INSURER_PROFILE[code]
    factor = {"STAR": 1.0, "GAT": 0.95, "COMAR": 1.05}[code]
    bareme = {
        care_type: {item.code: int(item.unit_price * factor) for item in items_for(care_type)}
        for care_type in CARE_TYPES
    }
    return {
        "bareme_version": f"{code}-2026.1",
        "bareme": bareme,
        "fraud": {
            "review_threshold": review,
            "block_threshold": block,
            "duplicate_window_days": 3,
            "max_claims_per_30_days": 8,
            "amount_factor": 3,
            "max_quantity": {"pharmacy": 10, "default": 20},
            "distance_km": 150,
        },
        "hospitalization_auto_approve": False,
        "retention_rate": retention,
        "reconciliation_cycle": cycle,
    }


def seed_demo(members: int = 300, with_demo_users: bool = True, today: date | None = None) -> SeedReport:
    rng = random.Random(SEED)
    today = today or date.today()
    report = SeedReport()

    insurers = {i.code: i for i in db.session.scalars(select(Insurer))}
    for code, name, tax_id, address, phone, email in INSURERS:
        if code not in insurers:
            insurers[code] = Insurer(code=code, name=name, tax_id=tax_id, address=address, phone=phone,
                                     email=email, config_json=insurer_config(code))
            db.session.add(insurers[code])
            report.add("assureurs")
    db.session.flush()

    providers = {p.license_no: p for p in db.session.scalars(select(Provider))}
    by_name: dict[str, Provider] = {}
    for index, (kind, name, city, speciality) in enumerate(PROVIDERS):
        lat, lng = _near(rng, city)
        license_no = _license(kind, index)
        provider = providers.get(license_no)
        if provider is None:
            provider = Provider(type=kind, name=name, license_no=license_no, speciality=speciality,
                                address=f"{rng.randint(1, 120)} {rng.choice(STREETS)}", city=city, lat=lat, lng=lng,
                                phone=f"+216 7{rng.randint(0, 9)} {rng.randint(100, 999)} {rng.randint(100, 999)}")
            db.session.add(provider)
            report.add("prestataires")
        by_name[name] = provider
    db.session.flush()

    existing_conv = {(c.insurer_id, c.provider_id) for c in db.session.scalars(select(Convention))}
    for code, insurer in insurers.items():
        for index, (kind, name, _city, _sp) in enumerate(PROVIDERS):
            if (index + len(code)) % 3 == 0:  # about two providers in three have a convention with each insurer
                continue
            provider = by_name[name]
            if (insurer.id, provider.id) in existing_conv:
                continue
            care_type = {"pharmacist": "pharmacy", "doctor": "consultation", "lab": "lab", "clinic": "hospitalization"}[kind]
            tariffs = {item.code: int(item.unit_price * 0.95) for item in items_for(care_type)[::3]}
            bareme = {"version": f"CONV-{code}-{_license(kind, index)}-2026", "tariffs": tariffs}
            if kind == "pharmacist" and index % 2 == 0:
                bareme["generic_rate"] = 95
            if kind == "lab":
                bareme["rates"] = {"lab": 85}
            db.session.add(Convention(insurer_id=insurer.id, provider_id=provider.id, bareme_json=bareme,
                                      start_date=date(today.year, 1, 1), end_date=None))
            report.add("conventions")
    db.session.flush()

    _seed_members(rng, members, insurers, today, report)

    if with_demo_users:
        existing_users = {u.email for u in db.session.scalars(select(User))}
        password_hash = None
        for email, role, first, last, org_kind, org_key in DEMO_USERS:
            report.demo_users.append((email, role))
            if email in existing_users:
                continue
            password_hash = password_hash or hash_password(DEMO_PASSWORD)
            user = User(email=email, role=role, first_name=first, last_name=last, password_hash=password_hash,
                        insurer_id=insurers[org_key].id if org_kind == "insurer" else None,
                        provider_id=by_name[org_key].id if org_kind == "provider" else None)
            db.session.add(user)
            db.session.flush()
            audit.record("user.create", "user", user.id, {"email": email, "role": role, "source": "seed"}, user=None)
            report.add("utilisateurs")

    if report.total:
        audit.record("seed.demo", "dataset", "demo", dict(report.created), user=None)
    db.session.flush()
    return report


def _seed_members(rng: random.Random, count: int, insurers: dict[str, Insurer], today: date, report: SeedReport):
    existing_hashes = set(db.session.scalars(select(Adherent.national_id_hash)))
    existing_numbers = set(db.session.scalars(select(Contract.contract_number)))
    codes = sorted(insurers)
    city_names = list(CITIES)
    for n in range(count):
        gender = "F" if n % 2 else "M"
        first = rng.choice(FIRST_NAMES_F if gender == "F" else FIRST_NAMES_M)
        last = rng.choice(LAST_NAMES)
        national_id = f"{(n * 7919 + 1_000_003) % 10_000_000 + (0 if n % 3 else 10_000_000):08d}"
        city = city_names[n % len(city_names)]
        lat, lng = _near(rng, city)
        birth = date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 60))
        phone = f"+216 {rng.choice('2459')}{rng.randint(0, 9)} {rng.randint(100, 999)} {rng.randint(100, 999)}"
        plan = ("individual", "family", "corporate")[n % 3]
        # Roughly: most contracts active; some in carence, suspended, expired; one in ten has a second insurer.
        contracts_spec = [(codes[n % len(codes)], plan, n)]
        if n % 10 == 4:
            contracts_spec.append((codes[(n + 1) % len(codes)], "individual", n + 100_000))
        numbers = [f"{code}-{seq:07d}" for code, _plan, seq in contracts_spec]
        if crypto.national_id_hash(national_id) in existing_hashes and all(x in existing_numbers for x in numbers):
            continue
        adherent = None
        if crypto.national_id_hash(national_id) not in existing_hashes:
            adherent = Adherent(national_id=national_id, first_name=first, last_name=last, date_of_birth=birth,
                                gender=gender, phone=phone, email=f"{first}.{last}.{n}@exemple.tn".lower().replace(" ", ""),
                                address=f"{rng.randint(1, 200)} {rng.choice(STREETS)}", city=city, lat=lat, lng=lng)
            db.session.add(adherent)
            db.session.flush()
            existing_hashes.add(adherent.national_id_hash)
            report.add("adhérents")
        else:
            adherent = db.session.scalar(
                select(Adherent).where(Adherent.national_id_hash == crypto.national_id_hash(national_id)))
        for (code, plan_type, _seq), number in zip(contracts_spec, numbers, strict=True):
            if number in existing_numbers:
                continue
            coverage, exclusions, limits, carences = PLANS[plan_type]
            status, start = "active", date(today.year - 1, 1 + n % 12, 1)
            end = date(start.year + 2, start.month, 1) - timedelta(days=1)
            carence = rng.choice(carences)
            if n % 25 == 7:
                status = "suspended"
            elif n % 25 == 13:
                status, start = "expired", date(today.year - 3, 1, 1)
                end = date(today.year - 1, 12, 31)
            elif n % 25 == 19:
                start, carence = today - timedelta(days=20), 90  # still in carence
                end = start + timedelta(days=364)
            elif n % 50 == 23:
                status = "cancelled"
            limit = limits[n % len(limits)]
            if n % 40 == 11:
                limit = 150_000  # a small annual limit, to show LIMIT_REACHED at the counter
            db.session.add(Contract(insurer_id=insurers[code].id, adherent_id=adherent.id, contract_number=number,
                                    plan_type=plan_type, start_date=start, end_date=end, carence_days=carence,
                                    annual_limit=limit, coverage_json=coverage, exclusions_json=list(exclusions),
                                    status=status))
            existing_numbers.add(number)
            report.add("contrats")
        if n % 200 == 199:
            db.session.flush()
    db.session.flush()
