using System.Buffers;
using System.IO.Pipelines;
using Callern.Platform.Calls;
using Callern.Platform.Infrastructure;
using Callern.Platform.Tenancy;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace Callern.Platform.Classroom;

/// <summary>The upload form as the OpenAPI document describes it: one file in the field <c>file</c>.</summary>
public sealed record FileUploadForm(IFormFile File);

/// <summary>REST of the classroom (docs/classroom.md): the two participants and the tenant's admins read; participants of a live call upload.</summary>
public static class ClassroomEndpoints
{
    /// <summary>Room for the multipart boundary and headers around the file.</summary>
    private const long MultipartOverheadBytes = 64 * 1024;

    public static IServiceCollection AddClassroom(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<FileStorageOptions>(configuration.GetSection("Callern:Classroom"));
        return services.AddSingleton<IFileStorage, LocalDiskFileStorage>().AddSingleton<ClassroomService>()
            .AddSingleton<StatsBuffer>().AddHostedService<StatsFlusher>()
            .AddSingleton<ICallSummaryParts>(sp => sp.GetRequiredService<ClassroomService>()).AddClassroomDeadlines();
    }

    public static IEndpointRouteBuilder MapClassroom(this IEndpointRouteBuilder app)
    {
        var calls = app.MapGroup("/v1/calls/{callId:guid}").WithTags("Classroom").RequireAuthorization(Policies.TenantUser);
        calls.MapGet("/messages", Messages).WithName("ListCallMessages")
            .WithSummary("The call's chat messages after a seq (0 for all), in seq order; pass the last seq seen as after for the next page.");
        calls.MapPost("/files", Upload).WithName("UploadCallFile")
            .Accepts<FileUploadForm>("multipart/form-data")
            .WithMetadata(new RequestSizeLimitAttribute(ClassroomSettings.MaxFileBytesCap + MultipartOverheadBytes))
            .ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .WithSummary("A participant of a live call shares a file (multipart field file); its type is recognised by its bytes, and the peer is told.");
        calls.MapGet("/files", Files).WithName("ListCallFiles").WithSummary("The files shared in the call, oldest first.");
        calls.MapGet("/files/{fileId:guid}", Download).WithName("DownloadCallFile")
            .Produces<Stream>(StatusCodes.Status200OK, "application/octet-stream")
            .WithSummary("A shared file's bytes, as an attachment.");
        calls.MapPost("/files/{fileId:guid}/link", Link).WithName("CreateCallFileLink")
            .WithSummary("A download address valid for 5 minutes that needs no bearer token (for a browser link).");
        calls.MapGet("/whiteboard", Board).WithName("GetCallWhiteboard")
            .WithSummary("The current whiteboard: the operations still visible after undo, erase and clear, and the last seq.");

        app.MapGet("/v1/files/{token}", DownloadByLink).WithTags("Classroom").AllowAnonymous().WithName("DownloadFileByLink")
            .Produces<Stream>(StatusCodes.Status200OK, "application/octet-stream")
            .WithSummary("A shared file's bytes through a link from CreateCallFileLink, until it expires.");
        return app;
    }

    private static async Task<Results<Ok<Page<ChatMessage>>, NotFound, ValidationProblem>> Messages(
        Guid callId, HttpContext http, ClassroomService classroom, long? after, int? limit)
    {
        var errors = new FieldErrors()
            .Check(after is null or >= 0, "after", "A seq, 0 or more.")
            .Check(limit is null or (>= 1 and <= Cursor.MaxLimit), "limit", $"Between 1 and {Cursor.MaxLimit}.");
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var caller = http.User.RequiredCaller();
        if (await classroom.VisibleCallAsync(caller, callId) is null)
        {
            return TypedResults.NotFound();
        }
        var size = limit ?? Cursor.DefaultLimit;
        var rows = await classroom.MessagesAsync(caller.TenantId, callId, after ?? 0, size + 1);
        return TypedResults.Ok(rows.Count > size
            ? new Page<ChatMessage>(rows.Take(size).ToList(), rows[size - 1].Seq.ToString(System.Globalization.CultureInfo.InvariantCulture))
            : new Page<ChatMessage>(rows, null));
    }

    private static async Task<Results<Ok<IReadOnlyList<CallFile>>, NotFound>> Files(Guid callId, HttpContext http, ClassroomService classroom)
    {
        var caller = http.User.RequiredCaller();
        return await classroom.VisibleCallAsync(caller, callId) is null
            ? TypedResults.NotFound()
            : TypedResults.Ok(await classroom.FilesAsync(caller.TenantId, callId));
    }

    private static async Task<Results<Ok<Whiteboard>, NotFound>> Board(Guid callId, HttpContext http, ClassroomService classroom)
    {
        var caller = http.User.RequiredCaller();
        return await classroom.VisibleCallAsync(caller, callId) is null
            ? TypedResults.NotFound()
            : TypedResults.Ok(await classroom.WhiteboardAsync(caller.TenantId, callId));
    }

    private static async Task<Results<FileStreamHttpResult, NotFound>> Download(Guid callId, Guid fileId, HttpContext http, ClassroomService classroom)
    {
        var caller = http.User.RequiredCaller();
        return await classroom.VisibleCallAsync(caller, callId) is null
            ? TypedResults.NotFound()
            : await SendAsync(classroom, caller.TenantId, callId, fileId);
    }

    private static async Task<Results<Ok<FileLink>, NotFound>> Link(Guid callId, Guid fileId, HttpContext http, ClassroomService classroom)
    {
        var caller = http.User.RequiredCaller();
        if (await classroom.VisibleCallAsync(caller, callId) is null || await classroom.FindFileAsync(caller.TenantId, callId, fileId) is null)
        {
            return TypedResults.NotFound();
        }
        var (token, expiresAt) = classroom.CreateLinkToken(caller.TenantId, callId, fileId);
        var request = http.Request;
        return TypedResults.Ok(new FileLink($"{request.Scheme}://{request.Host}{request.PathBase}/v1/files/{token}", expiresAt));
    }

    private static async Task<Results<FileStreamHttpResult, NotFound>> DownloadByLink(string token, ClassroomService classroom) =>
        classroom.ReadLinkToken(token) is { } named
            ? await SendAsync(classroom, named.TenantId, named.CallId, named.FileId)
            : TypedResults.NotFound();

    private static async Task<Results<FileStreamHttpResult, NotFound>> SendAsync(ClassroomService classroom, Guid tenantId, Guid callId, Guid fileId)
    {
        if (await classroom.OpenFileAsync(tenantId, callId, fileId) is not { } opened)
        {
            return TypedResults.NotFound();
        }
        // An attachment, never re-typed by the browser (SecurityHeaders: nosniff, no-store): a shared file cannot act as a page of the platform.
        return TypedResults.File(opened.Content, opened.File.ContentType, opened.File.FileName);
    }

    private static async Task<Results<Created<CallFile>, NotFound, ValidationProblem, ProblemHttpResult>> Upload(
        Guid callId, HttpContext http, ClassroomService classroom, SettingsStore settings, CancellationToken cancellationToken)
    {
        var caller = http.User.RequiredCaller();
        try
        {
            // Refused before a byte of the body is read.
            await classroom.CheckLiveParticipantAsync(caller, callId);
            var rules = (await settings.GetAsync(caller.TenantId)).Classroom!;
            var bodyLimit = rules.MaxFileBytes + MultipartOverheadBytes;
            if (http.Request.ContentLength > bodyLimit)
            {
                return TooLarge(rules.MaxFileBytes);
            }
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            {
                size.MaxRequestBodySize = bodyLimit;
            }
            if (!MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var contentType)
                || !contentType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
                || HeaderUtilities.RemoveQuotes(contentType.Boundary).Value is not { Length: > 0 and <= 200 } boundary)
            {
                return FileError("Send multipart/form-data with the file in the field 'file'.");
            }
            var reader = new MultipartReader(boundary, http.Request.Body) { HeadersLengthLimit = 16 * 1024 };
            while (await reader.ReadNextSectionAsync(cancellationToken) is { } section)
            {
                if (ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    && disposition.IsFileDisposition() && HeaderUtilities.RemoveQuotes(disposition.Name).Equals("file", StringComparison.Ordinal))
                {
                    var name = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value ?? "";
                    return await ShareAsync(caller, callId, name, section.Body, rules, classroom, cancellationToken);
                }
            }
            return FileError("Send multipart/form-data with the file in the field 'file'.");
        }
        catch (CallRuleException rule) when (rule.Status == StatusCodes.Status404NotFound)
        {
            return TypedResults.NotFound();
        }
        catch (CallRuleException rule)
        {
            return Problem(rule.Status, rule.Code, rule.Message);
        }
        catch (FileTooLargeException tooLarge)
        {
            return TooLarge(tooLarge.MaxBytes);
        }
        catch (IOException malformed) when (malformed is not BadHttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            // A multipart body that ends early or breaks its own framing; nothing was stored (FileStorage writes aside, then moves).
            return FileError("The multipart body is malformed or ended early.");
        }
    }

    private static async Task<Results<Created<CallFile>, NotFound, ValidationProblem, ProblemHttpResult>> ShareAsync(
        Caller caller, Guid callId, string name, Stream body, ClassroomSettings rules, ClassroomService classroom, CancellationToken cancellationToken)
    {
        if (FileNameError(name) is { } error)
        {
            return FileError(error);
        }
        // Look at the first bytes without consuming them: they decide the type before anything is stored.
        var pipe = PipeReader.Create(body);
        var read = await pipe.ReadAtLeastAsync(FileTypes.SniffBytes, cancellationToken);
        var head = read.Buffer.Slice(0, Math.Min(FileTypes.SniffBytes, read.Buffer.Length)).ToArray();
        var complete = read.IsCompleted && read.Buffer.Length <= FileTypes.SniffBytes;
        pipe.AdvanceTo(read.Buffer.Start);
        var type = FileTypes.Recognise(head, complete, name);
        if (type is null || !rules.AllowedFileTypes.Contains(type.Name))
        {
            return Problem(StatusCodes.Status415UnsupportedMediaType, "unsupported_file_type",
                $"The file's bytes must be one of {string.Join(", ", rules.AllowedFileTypes)}, and its name must end as that type's does.");
        }
        var file = await classroom.ShareFileAsync(caller, callId, name, type, pipe.AsStream(), rules.MaxFileBytes, cancellationToken);
        return TypedResults.Created($"/v1/calls/{callId}/files/{file.Id}", file);
    }

    /// <summary>The name is only shown, never used as a path; still, a name that looks like one is refused rather than trimmed.</summary>
    private static string? FileNameError(string name) =>
        string.IsNullOrWhiteSpace(name) ? "The file needs a name."
        : name.Length > 200 ? "A file name has at most 200 characters."
        : name.IndexOfAny(['/', '\\']) >= 0 || name.Contains("..", StringComparison.Ordinal) ? "A file name may not hold path separators or '..'."
        : name.Any(char.IsControl) ? "A file name may not hold control characters."
        : name != name.Trim() ? "A file name may not start or end with spaces."
        : null;

    private static ValidationProblem FileError(string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["file"] = [message] });

    private static ProblemHttpResult TooLarge(long maxBytes) =>
        Problem(StatusCodes.Status413PayloadTooLarge, "file_too_large", $"The file may hold at most {maxBytes} bytes.");

    private static ProblemHttpResult Problem(int status, string code, string title) =>
        TypedResults.Problem(statusCode: status, title: title, extensions: new Dictionary<string, object?> { ["code"] = code });
}
