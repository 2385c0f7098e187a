"""Building blocks the methods share; nothing here is a method or imports one."""
