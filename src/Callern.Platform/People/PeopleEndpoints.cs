using Callern.Platform.Infrastructure;
using Callern.Platform.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Callern.Platform.People;

/// <summary>What GET /v1/me answers: the caller, and their profile when they have one.</summary>
public sealed record Me(Guid TenantId, string UserId, string Role, string Name, Student? Student, Teacher? Teacher);

/// <summary>The caller's own profile: a student sends <c>student</c>, a teacher sends <c>teacher</c>.</summary>
public sealed record UpdateMeRequest(StudentInput? Student, TeacherInput? Teacher);

public static class PeopleEndpoints
{
    public static IEndpointRouteBuilder MapPeople(this IEndpointRouteBuilder app)
    {
        var students = app.MapGroup("/v1/students").WithTags("People").RequireAuthorization(Policies.AdminOrService);
        students.MapPut("/{id}", PutStudent).WithName("UpsertStudent").WithSummary("Creates or updates a student under the school's own user id.");
        students.MapGet("/{id}", GetStudent).WithName("GetStudent").WithSummary("Gets one student.");
        students.MapGet("/", ListStudents).WithName("ListStudents").WithSummary("Lists students by id with cursor pagination and filters.");

        var teachers = app.MapGroup("/v1/teachers").WithTags("People").RequireAuthorization(Policies.AdminOrService);
        teachers.MapPut("/{id}", PutTeacher).WithName("UpsertTeacher").WithSummary("Creates or updates a teacher under the school's own user id.");
        teachers.MapGet("/{id}", GetTeacher).WithName("GetTeacher").WithSummary("Gets one teacher.");
        teachers.MapGet("/", ListTeachers).WithName("ListTeachers")
            .WithSummary("Lists teachers by id with cursor pagination; filter by language (en matches en-GB), level and specialization.");

        var me = app.MapGroup("/v1/me").WithTags("People").RequireAuthorization(Policies.TenantUser);
        me.MapGet("/", GetMe).WithName("GetMe").WithSummary("The caller's identity and, for students and teachers, their profile.");
        me.MapPut("/", PutMe).WithName("UpdateMe").WithSummary("Creates or updates the caller's own student or teacher profile.");
        return app;
    }

    private static async Task<Results<Ok<Student>, ValidationProblem>> PutStudent(string id, StudentInput input, HttpContext http, PeopleStore people)
    {
        var errors = input.Validate(new FieldErrors().Id(id, "id"));
        return errors.IsEmpty
            ? TypedResults.Ok(await people.UpsertStudentAsync(http.User.RequiredCaller().TenantId, id, input))
            : errors.ToProblem();
    }

    private static async Task<Results<Ok<Student>, NotFound>> GetStudent(string id, HttpContext http, PeopleStore people) =>
        await people.FindStudentAsync(http.User.RequiredCaller().TenantId, id) is { } student ? TypedResults.Ok(student) : TypedResults.NotFound();

    private static async Task<Results<Ok<Page<Student>>, ValidationProblem>> ListStudents(
        HttpContext http, PeopleStore people, string? cursor, int? limit, string? targetLanguage, string? level)
    {
        var errors = new FieldErrors().LanguageTag(targetLanguage, "targetLanguage", required: false).Level(level, "level", required: false);
        var (after, size) = Cursor.Read(cursor, limit, errors);
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var rows = await people.ListStudentsAsync(http.User.RequiredCaller().TenantId, after, size + 1, targetLanguage, level);
        return TypedResults.Ok(Cursor.ToPage(rows, size, s => s.Id));
    }

    private static async Task<Results<Ok<Teacher>, ValidationProblem>> PutTeacher(string id, TeacherInput input, HttpContext http, PeopleStore people)
    {
        var errors = input.Validate(new FieldErrors().Id(id, "id"));
        return errors.IsEmpty
            ? TypedResults.Ok(await people.UpsertTeacherAsync(http.User.RequiredCaller().TenantId, id, input))
            : errors.ToProblem();
    }

    private static async Task<Results<Ok<Teacher>, NotFound>> GetTeacher(string id, HttpContext http, PeopleStore people) =>
        await people.FindTeacherAsync(http.User.RequiredCaller().TenantId, id) is { } teacher ? TypedResults.Ok(teacher) : TypedResults.NotFound();

    private static async Task<Results<Ok<Page<Teacher>>, ValidationProblem>> ListTeachers(
        HttpContext http, PeopleStore people, string? cursor, int? limit, string? language, string? level, string? specialization)
    {
        var errors = new FieldErrors().LanguageTag(language, "language", required: false).Level(level, "level", required: false);
        if (specialization is not null)
        {
            errors.Specialization(specialization, "specialization");
        }
        var (after, size) = Cursor.Read(cursor, limit, errors);
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var rows = await people.ListTeachersAsync(http.User.RequiredCaller().TenantId, after, size + 1, language, level, specialization);
        return TypedResults.Ok(Cursor.ToPage(rows, size, t => t.Id));
    }

    private static async Task<Ok<Me>> GetMe(HttpContext http, PeopleStore people)
    {
        var caller = http.User.RequiredCaller();
        return TypedResults.Ok(await LoadMe(caller, people));
    }

    private static async Task<Results<Ok<Me>, ValidationProblem>> PutMe(UpdateMeRequest request, HttpContext http, PeopleStore people)
    {
        var caller = http.User.RequiredCaller();
        var errors = new FieldErrors().Id(caller.UserId, "sub");
        switch (caller.Role)
        {
            case Roles.Student when request.Student is not null && request.Teacher is null:
                request.Student.Validate(errors, "student.");
                if (errors.IsEmpty)
                {
                    await people.UpsertStudentAsync(caller.TenantId, caller.UserId, request.Student);
                }
                break;
            case Roles.Teacher when request.Teacher is not null && request.Student is null:
                request.Teacher.Validate(errors, "teacher.");
                if (errors.IsEmpty)
                {
                    await people.UpsertTeacherAsync(caller.TenantId, caller.UserId, request.Teacher);
                }
                break;
            default:
                errors.Add(caller.Role == Roles.Teacher ? "teacher" : "student",
                    caller.Role is Roles.Student or Roles.Teacher
                        ? $"A {caller.Role} sends only the {caller.Role} profile."
                        : "Only students and teachers have a profile of their own.");
                break;
        }
        return errors.IsEmpty ? TypedResults.Ok(await LoadMe(caller, people)) : errors.ToProblem();
    }

    private static async Task<Me> LoadMe(Caller caller, PeopleStore people) => new(
        caller.TenantId, caller.UserId, caller.Role, caller.Name,
        caller.Role == Roles.Student ? await people.FindStudentAsync(caller.TenantId, caller.UserId) : null,
        caller.Role == Roles.Teacher ? await people.FindTeacherAsync(caller.TenantId, caller.UserId) : null);
}
