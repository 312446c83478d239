"""A tiny API used only by the core tests: one authenticated view with a validating serializer."""

from django.urls import path
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.exceptions import Conflict


class EchoInput(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1)
    address = serializers.DictField(child=serializers.CharField())


class EchoView(APIView):
    def post(self, request):
        data = EchoInput(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["quantity"] == 13:
            raise Conflict("Thirteen is taken.", code="unlucky")
        return Response({"customer": str(request.user.id), **data.validated_data})

    def get(self, request):
        return Response({"customer": str(request.user.id)})


class CrashView(APIView):
    authentication_classes = []
    permission_classes = []

    def get(self, request):
        raise RuntimeError("boom")


urlpatterns = [path("echo/", EchoView.as_view()), path("crash/", CrashView.as_view())]
handler404 = "apps.core.views.not_found"
handler500 = "apps.core.views.server_error"
