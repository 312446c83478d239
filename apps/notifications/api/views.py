"""Views of the notifications API: the signed-in shopper's notification preferences."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.notifications import selectors, services
from apps.notifications.api import serializers as s
from apps.notifications.models import Preference


def _body(preference: Preference) -> dict:
    return s.PreferenceOutputSerializer(
        {
            "marketing_opt_out": preference.marketing_opt_out,
            "sms_opt_in": preference.sms_opt_in,
            # An unsaved row is the defaults: nothing chosen yet.
            "updated_at": preference.updated_at if not preference._state.adding else None,
        }
    ).data


class PreferenceView(APIView):
    @extend_schema(
        operation_id="notifications_preferences_retrieve",
        summary="The signed-in shopper's notification preferences",
        responses={200: s.PreferenceOutputSerializer},
    )
    def get(self, request: Request) -> Response:
        return Response(_body(selectors.preference_get(customer_id=request.user.id)))

    @extend_schema(
        operation_id="notifications_preferences_update",
        summary="Change the signed-in shopper's notification preferences",
        request=s.PreferenceUpdateInputSerializer,
        responses={200: s.PreferenceOutputSerializer},
    )
    def patch(self, request: Request) -> Response:
        data = s.PreferenceUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        preference = services.preference_update(customer_id=request.user.id, **data.validated_data)
        return Response(_body(preference))
