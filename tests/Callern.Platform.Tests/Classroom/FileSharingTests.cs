using System.Net;
using System.Net.Http.Json;
using Callern.Platform.Classroom;
using Callern.Platform.Tests.Calls;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using static Callern.Platform.Tests.Classroom.ClassroomKit;
using static Callern.Platform.Tests.Infrastructure.Polling;
using Call = Callern.Platform.Calls.Call;
using CallFile = Callern.Platform.Calls.CallFile;
using FileLink = Callern.Platform.Classroom.FileLink;

namespace Callern.Platform.Tests.Classroom;

/// <summary>Uploads, downloads and retention of shared files, with real files on disk.</summary>
public sealed class FileSharingTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public async Task A_shared_file_reaches_the_peer_and_downloads_as_uploaded()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);
        var bytes = Pdf(100_000);

        var shared = await app.UploadedAsync(tenant, "s", CallernRoles.Student, callId, bytes, "worksheet 1.pdf");
        var notified = await teacher.NextAsync<CallFile>("FileShared");
        var download = await app.As(tenant, "t", CallernRoles.Teacher).GetAsync($"/v1/calls/{callId}/files/{shared.Id}");
        var viaSdk = await app.SdkAs(tenant, "t", CallernRoles.Teacher).UploadCallFileAsync(callId, new FileParameter(new MemoryStream(Png()), "diagram.png"));
        var listed = await app.SdkAs(tenant, "s", CallernRoles.Student).ListCallFilesAsync(callId);
        await student.InvokeAsync<Call>("EndCall", callId);
        var summary = await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).GetCallAsync(callId);

        Assert.Equal(shared, notified);
        Assert.Equal(("s", "worksheet 1.pdf", "application/pdf", 100_000L), (shared.UploaderId, shared.FileName, shared.ContentType, shared.SizeBytes));
        Assert.Equal(bytes, await download.Content.ReadAsByteArrayAsync());
        Assert.Equal("attachment", download.Content.Headers.ContentDisposition!.DispositionType);
        Assert.Equal("worksheet 1.pdf", download.Content.Headers.ContentDisposition.FileNameStar);
        Assert.Equal("nosniff", download.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("image/png", viaSdk.ContentType);
        Assert.Equal(["worksheet 1.pdf", "diagram.png"], listed.Select(f => f.FileName));
        Assert.Equal(["worksheet 1.pdf", "diagram.png"], summary.Files!.Select(f => f.FileName));
        // Stored under generated ids, never under the uploader's name.
        Assert.Subset(app.FilesOnDisk().Select(Path.GetFileName).ToHashSet(), new HashSet<string?> { shared.Id.ToString("N"), viaSdk.Id.ToString("N") });
        Assert.DoesNotContain(app.FilesOnDisk(), f => f.Contains("worksheet", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Only_the_participants_and_the_schools_admins_download_and_links_cannot_be_forged_or_reused_late()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);
        var shared = await app.UploadedAsync(tenant, "t", CallernRoles.Teacher, callId, Pdf(), "notes.pdf");
        var path = $"/v1/calls/{callId}/files/{shared.Id}";
        var otherSchool = await app.CreateTenantAsync("Other School");

        var thirdStudent = await app.As(tenant, "s-other", CallernRoles.Student).GetAsync(path);
        var thirdTeacher = await app.As(tenant, "t-other", CallernRoles.Teacher).GetAsync(path);
        var otherAdmin = await app.As(otherSchool, "admin-1", CallernRoles.Admin).GetAsync(path);
        var otherAdminLink = await app.As(otherSchool, "admin-1", CallernRoles.Admin).PostAsync(path + "/link", null);
        var admin = await app.As(tenant, "admin-1", CallernRoles.Admin).GetAsync(path);
        var link = (await (await app.As(tenant, "s", CallernRoles.Student).PostAsync(path + "/link", null)).Content.ReadFromJsonAsync<FileLink>(Json))!;
        var anonymous = app.Anonymous();
        var byLink = await anonymous.GetAsync(link.Url);
        var token = link.Url[(link.Url.LastIndexOf('/') + 1)..];
        var tampered = await anonymous.GetAsync("/v1/files/" + token[..^2] + (token[^2] == 'A' ? "B" : "A") + token[^1]);
        var forged = await anonymous.GetAsync("/v1/files/" + Convert.ToBase64String(Guid.NewGuid().ToByteArray()).TrimEnd('='));
        app.Clock.Advance(ClassroomService.FileLinkTtl + TimeSpan.FromSeconds(1));
        var expired = await anonymous.GetAsync(link.Url);

        Assert.All(new[] { thirdStudent, thirdTeacher, otherAdmin, otherAdminLink }, r => Assert.Equal(HttpStatusCode.NotFound, r.StatusCode));
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
        Assert.Equal(Pdf(), await byLink.Content.ReadAsByteArrayAsync());
        Assert.True(link.ExpiresAt <= app.Clock.GetUtcNow());
        Assert.All(new[] { tampered, forged, expired }, r => Assert.Equal(HttpStatusCode.NotFound, r.StatusCode));
    }

    [Theory]
    [InlineData("report.pdf", "program")]
    [InlineData("photo.pdf", "png")]
    [InlineData("notes.txt", "program")]
    [InlineData("archive.docx", "program")]
    public async Task A_file_whose_bytes_are_not_what_its_name_says_is_refused_and_nothing_is_stored(string name, string content)
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);
        var before = app.FilesOnDisk();

        var response = await app.UploadAsync(tenant, "s", CallernRoles.Student, callId, content == "png" ? Png() : Program(), name);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("unsupported_file_type", await response.Content.ReadAsStringAsync());
        Assert.Equal(before, app.FilesOnDisk());
        Assert.Empty(await app.SdkAs(tenant, "s", CallernRoles.Student).ListCallFilesAsync(callId));
        Assert.False(teacher.Has("FileShared"));
    }

    [Fact]
    public async Task Plain_text_is_taken_as_text_and_types_the_school_does_not_allow_are_refused()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);

        var text = await app.UploadedAsync(tenant, "s", CallernRoles.Student, callId, "Vocabulary: ça, naïve, 単語\r\n\tend"u8.ToArray(), "words.txt");
        await app.UseClassroomSettingsAsync(tenant, c => c.AllowedFileTypes = ["pdf"]);
        var png = await app.UploadAsync(tenant, "s", CallernRoles.Student, callId, Png(), "diagram.png");

        Assert.Equal("text/plain; charset=utf-8", text.ContentType);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, png.StatusCode);
        Assert.Single(await app.SdkAs(tenant, "s", CallernRoles.Student).ListCallFilesAsync(callId));
    }

    [Theory]
    [InlineData("../../etc/passwd.pdf")]
    [InlineData("..pdf")]
    [InlineData("docs/report.pdf")]
    [InlineData("C:\\temp\\report.pdf")]
    [InlineData("report\u0001.pdf")]
    [InlineData(" ")]
    public async Task Names_that_look_like_paths_are_refused_and_nothing_is_stored(string name)
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);
        var before = app.FilesOnDisk();

        var response = await app.UploadAsync(tenant, "s", CallernRoles.Student, callId, Pdf(), name);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"file\"", await response.Content.ReadAsStringAsync());
        Assert.Equal(before, app.FilesOnDisk());
        Assert.Empty(await app.SdkAs(tenant, "s", CallernRoles.Student).ListCallFilesAsync(callId));
    }

    [Fact]
    public async Task An_oversized_file_is_refused_with_413_and_leaves_nothing_on_disk()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        await app.UseClassroomSettingsAsync(tenant, c => c.MaxFileBytes = 4096);
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);
        var before = app.FilesOnDisk();

        var atLimit = await app.UploadAsync(tenant, "s", CallernRoles.Student, callId, Pdf(4096), "fits.pdf");
        var afterFit = app.FilesOnDisk();
        var over = await app.UploadAsync(tenant, "s", CallernRoles.Student, callId, Pdf(4097), "big.pdf");
        var wayOver = await app.UploadAsync(tenant, "s", CallernRoles.Student, callId, Pdf(200_000), "huge.pdf");

        Assert.Equal(HttpStatusCode.Created, atLimit.StatusCode);
        Assert.Equal(before.Count + 1, afterFit.Count);
        Assert.All(new[] { over, wayOver }, r => Assert.Equal(HttpStatusCode.RequestEntityTooLarge, r.StatusCode));
        Assert.Contains("file_too_large", await over.Content.ReadAsStringAsync());
        Assert.Equal(afterFit, app.FilesOnDisk());
        Assert.Equal(["fits.pdf"], (await app.SdkAs(tenant, "s", CallernRoles.Student).ListCallFilesAsync(callId)).Select(f => f.FileName));
    }

    [Fact]
    public async Task Uploads_need_a_participant_of_a_live_call()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);

        var outsider = await app.UploadAsync(tenant, "s-other", CallernRoles.Student, callId, Pdf(), "x.pdf");
        var admin = await app.UploadAsync(tenant, "admin-1", CallernRoles.Admin, callId, Pdf(), "x.pdf");
        await student.InvokeAsync<Call>("EndCall", callId);
        var ended = await app.UploadAsync(tenant, "s", CallernRoles.Student, callId, Pdf(), "x.pdf");

        Assert.Equal(HttpStatusCode.NotFound, outsider.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, admin.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, ended.StatusCode);
        Assert.Empty(await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).ListCallFilesAsync(callId));
    }

    [Fact]
    public async Task Files_are_deleted_from_disk_and_listing_when_the_retention_ends()
    {
        await using var pair = await app.PairAsync(6000);
        var (tenant, student, teacher) = pair;
        await app.UseClassroomSettingsAsync(tenant, c => c.FileRetentionDays = 1);
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);
        var shared = await app.UploadedAsync(tenant, "s", CallernRoles.Student, callId, Pdf(), "kept a day.pdf");
        await student.InvokeAsync<Call>("EndCall", callId);
        var stored = Path.Combine(app.FilesPath, shared.Id.ToString("N"));
        var wasStored = File.Exists(stored);

        app.Clock.Advance(TimeSpan.FromHours(23));
        await app.FireDueAsync();
        var kept = File.Exists(stored);
        app.Clock.Advance(TimeSpan.FromHours(1));
        await app.FireDueAsync();
        // The background sweeper, woken by the clock, may be the one that fired it.
        var deleted = await EventuallyAsync(() => Task.FromResult(!File.Exists(stored)), gone => gone);
        var listed = await EventuallyAsync(() => app.SdkAs(tenant, "s", CallernRoles.Student).ListCallFilesAsync(callId), files => files.Count == 0);

        Assert.True(wasStored);
        Assert.True(kept);
        Assert.True(deleted);
        Assert.Empty(listed);
        Assert.Equal(HttpStatusCode.NotFound, (await app.As(tenant, "s", CallernRoles.Student).GetAsync($"/v1/calls/{callId}/files/{shared.Id}")).StatusCode);
    }
}
