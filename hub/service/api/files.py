"""Files in and out of the API: uploads read within the site's limits, zips sent back."""

from __future__ import annotations

from fastapi import Request, Response, UploadFile

from sabaq import archive
from sabaq.errors import Invalid, TooLarge
from sabaq.hub.domain.uploads import check_file_count, check_upload
from sabaq.i18n import N_

ZIP = "application/zip"


def zip_response(files: dict[str, bytes], filename: str, deflate: bool = True) -> Response:
    return Response(
        archive.pack(files, deflate=deflate), media_type=ZIP,
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


async def read_uploads(request: Request, uploads: list[UploadFile]) -> dict[str, bytes]:
    """Read uploaded files, stopping at the size limit instead of filling memory."""
    settings = request.app.state.settings
    limit = settings.service.max_upload_mb * 1024 * 1024
    files: dict[str, bytes] = {}
    check_file_count(len(uploads), settings.service.max_files)
    for upload in uploads:
        data = await upload.read(limit + 1)
        name = archive.safe_relpath(upload.filename or "")
        if len(data) > limit:
            raise TooLarge(
                N_("The file '{path}' is {size} MB; the limit is {limit} MB. Make it smaller (for example, clear large outputs) and try again."),
                path=name, size=f"> {settings.service.max_upload_mb}", limit=settings.service.max_upload_mb,
            )
        if name in files:
            raise Invalid(N_("The file '{path}' was sent twice."), path=name)
        files[name] = data
    return check_upload(files, limit, settings.service.max_files)
