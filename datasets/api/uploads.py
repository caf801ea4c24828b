"""The dataset upload: streamed to a temporary file and hashed as it arrives, never held in memory."""

from __future__ import annotations

import hashlib

from django.core.files.uploadhandler import TemporaryFileUploadHandler

from core.parsers import MultiPartParser


class HashingUploadHandler(TemporaryFileUploadHandler):
    """Django's temporary-file handler that also computes each file's SHA-256 on the way (`file.sha256`)."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self._digest = hashlib.sha256()

    def receive_data_chunk(self, raw_data, start):
        self._digest.update(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        uploaded = super().file_complete(file_size)
        uploaded.sha256 = self._digest.hexdigest()
        return uploaded


class DatasetMultiPartParser(MultiPartParser.limited_by("DATASET_MAX_BYTES")):
    """Multipart with files up to DATASET_MAX_BYTES (413 past it, the rest unread), hashed to disk."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        # Replaces Django's defaults (memory below 2.5 MB): every dataset goes to disk, hashed once.
        request._request.upload_handlers = [HashingUploadHandler(request._request)]
        return super().parse(stream, media_type, parser_context)
