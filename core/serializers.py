from __future__ import annotations

from rest_framework import serializers


class StrictInputSerializer(serializers.Serializer):
    """An input serializer that refuses fields it does not know instead of ignoring them.

    A pipeline that sends `"status": "production"` should hear that it cannot,
    not get a 201 that silently dropped it. Unknown fields are reported together
    with every other field error.
    """

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        errors = {field: ["Unknown field."] for field in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            raise serializers.ValidationError({**detail, **errors}) from None
        if errors:
            raise serializers.ValidationError(errors)
        return value


def validated(serializer_class, data, **kwargs) -> dict:
    """Validate request data with `serializer_class`; its validated data as a plain dict (400 otherwise)."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
