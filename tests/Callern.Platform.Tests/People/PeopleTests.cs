using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;

namespace Callern.Platform.Tests.People;

public sealed class PeopleTests(CallernApp app) : IClassFixture<CallernApp>
{
    private static StudentInput Student(string name = "Ana Souza") => new()
    {
        DisplayName = name,
        TargetLanguage = "en",
        Level = "B1",
        TimeZone = "America/Sao_Paulo",
        Preferences = new StudentPreferences { Accent = "en-GB", Specialization = "business" },
        Goal = "Job interviews",
    };

    private static TeacherInput Teacher(string name = "Emma Clarke") => new()
    {
        DisplayName = name,
        Languages = [new TeacherLanguage { Language = "en-GB", Levels = ["B1", "B2", "C1"] }, new TeacherLanguage { Language = "fr-FR", Levels = ["A1"] }],
        Specializations = ["business", "exam-preparation"],
        TimeZone = "Europe/London",
        Bio = "Cambridge examiner.",
        AvatarUrl = "https://school.example/emma.png",
    };

    [Fact]
    public async Task Admin_upserts_and_reads_students_and_teachers_by_the_schools_own_ids()
    {
        var tenant = await app.CreateTenantAsync();
        var sdk = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);

        var created = await sdk.UpsertStudentAsync("s-100", Student());
        var updated = await sdk.UpsertStudentAsync("s-100", Student("Ana S. Souza"));
        var teacher = await sdk.UpsertTeacherAsync("t-100", Teacher());

        Assert.Equal("Ana Souza", created.DisplayName);
        Assert.Equal("Ana S. Souza", (await sdk.GetStudentAsync("s-100")).DisplayName);
        Assert.Equal(created.CreatedAt, updated.CreatedAt);
        Assert.Equal("en-GB", (await sdk.GetStudentAsync("s-100")).Preferences.Accent);
        var read = await sdk.GetTeacherAsync("t-100");
        Assert.Equal(["business", "exam-preparation"], read.Specializations);
        Assert.Equal(["B1", "B2", "C1"], read.Languages.Single(l => l.Language == "en-GB").Levels);
        Assert.Equal(teacher.CreatedAt, read.CreatedAt);
    }

    [Fact]
    public async Task Lists_page_through_every_person_once_and_filter()
    {
        var tenant = await app.CreateTenantAsync();
        var sdk = app.SdkAs(tenant, "svc", CallernRoles.Service);
        for (var i = 0; i < 7; i++)
        {
            await sdk.UpsertStudentAsync($"s-{i:00}", Student($"Student {i}"));
        }
        await sdk.UpsertTeacherAsync("t-en", Teacher());
        await sdk.UpsertTeacherAsync("t-es", new TeacherInput
        {
            DisplayName = "Sofía", Languages = [new TeacherLanguage { Language = "es-ES", Levels = ["A1", "A2"] }],
            Specializations = ["conversational"], TimeZone = "Europe/Madrid",
        });

        var ids = new List<string>();
        string? cursor = null;
        do
        {
            var page = await sdk.ListStudentsAsync(cursor, 3);
            ids.AddRange(page.Items.Select(s => s.Id));
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"s-{i:00}"), ids);
        Assert.Equal(["t-en"], (await sdk.ListTeachersAsync(language: "en")).Items.Select(t => t.Id));
        Assert.Equal(["t-en"], (await sdk.ListTeachersAsync(language: "en-GB", level: "C1")).Items.Select(t => t.Id));
        Assert.Empty((await sdk.ListTeachersAsync(language: "en-GB", level: "A1")).Items);
        Assert.Equal(["t-es"], (await sdk.ListTeachersAsync(specialization: "conversational")).Items.Select(t => t.Id));
        Assert.Equal(["t-en", "t-es"], (await sdk.ListTeachersAsync()).Items.Select(t => t.Id));
    }

    [Theory]
    [InlineData("timeZone", "Mars/Olympus")]
    [InlineData("timeZone", "Pacific Standard Time")]
    [InlineData("level", "D4")]
    [InlineData("targetLanguage", "english")]
    [InlineData("preferences.accent", "en_GB")]
    [InlineData("displayName", "")]
    public async Task Invalid_student_values_are_refused_with_field_errors_and_nothing_is_stored(string field, string value)
    {
        var tenant = await app.CreateTenantAsync();
        var admin = app.As(tenant, "admin-1", CallernRoles.Admin);
        var body = new Dictionary<string, object?>
        {
            ["displayName"] = "Ana", ["targetLanguage"] = "en", ["level"] = "B1", ["timeZone"] = "Europe/Paris",
            ["preferences"] = new Dictionary<string, object?> { ["accent"] = "en-GB" },
        };
        if (field.StartsWith("preferences.", StringComparison.Ordinal))
        {
            body["preferences"] = new Dictionary<string, object?> { [field["preferences.".Length..]] = value };
        }
        else
        {
            body[field] = value;
        }

        var response = await admin.PutAsJsonAsync("/v1/students/s-1", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for {field}: {problem}");
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/v1/students/s-1")).StatusCode);
    }

    [Fact]
    public async Task Invalid_teacher_languages_and_ids_are_refused()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = app.As(tenant, "admin-1", CallernRoles.Admin);

        var response = await admin.PutAsJsonAsync("/v1/teachers/t-1", new
        {
            displayName = "X", timeZone = "Europe/London", specializations = new[] { "Business!" },
            languages = new[] { new { language = "EN-gb", levels = new[] { "B1", "Z9" } } },
        });
        var badId = await admin.PutAsJsonAsync("/v1/teachers/..%2Fetc", Teacher());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty("languages[0].language", out _));
        Assert.True(errors.TryGetProperty("languages[0].levels[1]", out _));
        Assert.True(errors.TryGetProperty("specializations[0]", out _));
        Assert.Equal(HttpStatusCode.BadRequest, badId.StatusCode);
        Assert.Empty((await CallernApp.Sdk(admin).ListTeachersAsync()).Items);
    }

    [Fact]
    public async Task Students_and_teachers_read_and_update_their_own_profile_through_me()
    {
        var tenant = await app.CreateTenantAsync();
        var student = app.SdkAs(tenant, "s-me", CallernRoles.Student, "Kenji");
        var teacher = app.SdkAs(tenant, "t-me", CallernRoles.Teacher, "Emma");

        var before = await student.GetMeAsync();
        var after = await student.UpdateMeAsync(new UpdateMeRequest { Student = Student("Kenji Tanaka") });
        var teacherMe = await teacher.UpdateMeAsync(new UpdateMeRequest { Teacher = Teacher() });

        Assert.Null(before.Student);
        Assert.Equal("student", before.Role);
        Assert.Equal(tenant.Id, before.TenantId);
        Assert.Equal("Kenji Tanaka", after.Student!.DisplayName);
        Assert.Equal("Emma Clarke", teacherMe.Teacher!.DisplayName);
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);
        Assert.Equal("Kenji Tanaka", (await admin.GetStudentAsync("s-me")).DisplayName);
    }

    [Fact]
    public async Task A_student_cannot_send_a_teacher_profile_or_manage_other_people()
    {
        var tenant = await app.CreateTenantAsync();
        var student = app.As(tenant, "s-me", CallernRoles.Student);

        var asTeacher = await student.PutAsJsonAsync("/v1/me", new { teacher = Teacher() });
        var other = await student.PutAsJsonAsync("/v1/students/s-other", Student());

        Assert.Equal(HttpStatusCode.BadRequest, asTeacher.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);
        Assert.Empty((await admin.ListTeachersAsync()).Items);
        Assert.Empty((await admin.ListStudentsAsync()).Items);
    }
}
