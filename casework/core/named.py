"""A registry of functions by name, filled with a decorator: derive rules, benefit calculators and
workflow effects are each one, and YAML declarations refer to their entries by name."""


class Named(dict):
    def __call__(self, name):
        def wrap(fn):
            self[name] = fn
            return fn
        return wrap

    def names(self):
        return set(self)
