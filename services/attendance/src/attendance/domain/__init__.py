"""Pure rules of attendance (điểm danh): no I/O, no database, no web framework.

``calendar`` says when a school works and when a roll call is due (R14); ``counting`` turns
roll-call marks into absence days for the 45-buổi promotion rule (DOMAIN §1.9, §7.3).
"""
